// The target group: targets joining, leaving and draining, and the eligible
// set.

package lb

import (
	"errors"
	"fmt"
	"net"
	"scalelab/engine"
	"strings"
	"sync/atomic"
)

// ErrDraining is returned by Drain for a target that is already draining.
var ErrDraining = errors.New("already draining")

// TargetSnap is one target as the load balancer sees it.
type TargetSnap struct {
	Name     string
	Healthy  bool  // in service as far as health checks know
	Draining bool  // gets no new requests
	Active   int64 // requests in flight
	Requests int64 // requests sent to it, retries included
	Failures int64 // connection failures, 5xx answers and broken bodies
}

// target is one member of the target group.
type target struct {
	name string
	node engine.Node
	link *engine.Link
	host string // host:port, "" to ask node

	active    atomic.Int64
	requests  atomic.Int64
	failures  atomic.Int64
	connFails atomic.Int64 // connection failures in a row (passive detection)

	// Written under LB.mu, read anywhere.
	healthy  atomic.Bool
	draining atomic.Bool
	removed  atomic.Bool

	checking atomic.Bool // a health check is running
	passes   int         // checks passed in a row; under LB.mu
	fails    int         // checks failed in a row; under LB.mu

	idle chan struct{} // a drain's wake-up: draining and maybe idle (buffer of 1)
	gone chan struct{} // closed when removed
}

func newTarget(n engine.Node, link *engine.Link) *target {
	t := &target{name: n.Name(), node: n, link: link, host: n.Addr(), idle: make(chan struct{}, 1), gone: make(chan struct{})}
	t.healthy.Store(true)
	return t
}

func (t *target) addr() string {
	if t.host != "" {
		return t.host
	}
	return t.node.Addr()
}

// signalIdle wakes the drain of t, which checks under LB.mu whether t is
// still idle; a wake-up already pending is enough.
func (t *target) signalIdle() {
	select {
	case t.idle <- struct{}{}:
	default:
	}
}

// rebuildLocked recomputes the eligible targets; the caller holds mu.
func (lb *LB) rebuildLocked() {
	on := lb.healthOn.Load()
	el := make([]*target, 0, len(lb.targets))
	for _, t := range lb.targets {
		if t.draining.Load() || (on && !t.healthy.Load()) {
			continue
		}
		el = append(el, t)
	}
	lb.eligible.Store(&el)
}

func (lb *LB) findLocked(name string) *target {
	for _, t := range lb.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// AddTarget puts n in the target group, healthy, at once. link, when not
// nil, is the hop from the load balancer to n. Adding a name already in the
// group does nothing.
func (lb *LB) AddTarget(n engine.Node, link *engine.Link) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.findLocked(n.Name()) != nil {
		return
	}
	t := newTarget(n, link)
	lb.targets = append(lb.targets[:len(lb.targets):len(lb.targets)], t)
	lb.rebuildLocked()
	if link != nil {
		link.SetDown(false)
	}
	lb.sys.Events.Add(engine.EvAdd, t.name, engine.Textf("lb.joined", "joined %s's target group (%s)", lb.cfg.Name, engine.Plural(len(lb.targets), "target")))
}

// RemoveTarget takes the named target out at once; requests in flight to it
// finish.
func (lb *LB) RemoveTarget(name string) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.findLocked(name)
	if t == nil {
		return lb.unknownLocked(name)
	}
	lb.removeLocked(t)
	lb.sys.Events.Add(EvRemove, name, engine.Textf("lb.left", "left %s's target group (%s)", lb.cfg.Name, engine.Plural(len(lb.targets), "target")))
	return nil
}

func (lb *LB) unknownLocked(name string) error {
	have := make([]string, len(lb.targets))
	for i, t := range lb.targets {
		have[i] = t.name
	}
	return fmt.Errorf("%q is not a target of %s (have %s): %w", name, lb.cfg.Name, strings.Join(have, ", "), engine.ErrUnknownTarget)
}

// removeLocked takes t out of the group; it reports false if t was not in it.
func (lb *LB) removeLocked(t *target) bool {
	for i, x := range lb.targets {
		if x == t {
			lb.targets = append(lb.targets[:i:i], lb.targets[i+1:]...)
			t.removed.Store(true)
			close(t.gone)
			lb.rebuildLocked()
			if t.link != nil {
				t.link.SetDown(true)
			}
			return true
		}
	}
	return false
}

// Drain stops new requests to the named target. When its requests in flight
// have finished it leaves the group (event drained) and onDrained, if not
// nil, is called on a goroutine the load balancer waits for in Close. Under
// the sticky-cookie policy the users pinned to it keep coming until then.
func (lb *LB) Drain(name string, onDrained func()) error {
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		return fmt.Errorf("%s: %w", lb.cfg.Name, net.ErrClosed)
	}
	t := lb.findLocked(name)
	if t == nil {
		err := lb.unknownLocked(name)
		lb.mu.Unlock()
		return err
	}
	if t.draining.Load() {
		lb.mu.Unlock()
		return fmt.Errorf("%s: %w", name, ErrDraining)
	}
	t.draining.Store(true)
	lb.rebuildLocked()
	lb.sys.Events.Add(EvDrain, name, engine.Textf("lb.draining", "no new requests; %d in flight", t.active.Load()))
	lb.wg.Add(1)
	lb.mu.Unlock()
	// A request that picked t before it was marked sees draining after
	// counting itself in, and backs out or signals when it ends.
	if t.active.Load() == 0 {
		t.signalIdle()
	}
	go func() {
		defer lb.wg.Done()
		for {
			select {
			case <-t.idle:
			case <-t.gone:
				return
			case <-lb.ctx.Done():
				return
			}
			lb.mu.Lock()
			if t.active.Load() > 0 {
				// A request came in since the wake-up: one a policy had
				// picked just before the drain (it backs out), or a user
				// the sticky-cookie policy keeps here, counted in under mu
				// (pinnedDraining). Its end wakes the drain again.
				lb.mu.Unlock()
				continue
			}
			ok := lb.removeLocked(t)
			if ok {
				lb.sys.Events.Add(EvDrained, name, engine.Textf("lb.drained", "idle; left %s's target group (%s)", lb.cfg.Name, engine.Plural(len(lb.targets), "target")))
			}
			lb.mu.Unlock()
			if ok && onDrained != nil {
				onDrained()
			}
			return
		}
	}()
	return nil
}

// Targets returns the target group, in the order targets joined.
func (lb *LB) Targets() []TargetSnap {
	lb.mu.Lock()
	ts := lb.targets
	lb.mu.Unlock()
	out := make([]TargetSnap, len(ts))
	for i, t := range ts {
		out[i] = TargetSnap{
			Name:     t.name,
			Healthy:  t.healthy.Load(),
			Draining: t.draining.Load(),
			Active:   t.active.Load(),
			Requests: t.requests.Load(),
			Failures: t.failures.Load(),
		}
	}
	return out
}
