// Failure detection: active health checks, passive ejection and rejoin.

package lb

import (
	"context"
	"io"
	"net/http"
	"scalelab/engine"
)

// SetHealthChecks turns failure detection on or off live. Either way every
// target starts over as healthy: off, nobody is watching; on, the checks
// find the dead ones again within Interval×Fall.
func (lb *LB) SetHealthChecks(on bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.healthOn.Store(on)
	for _, t := range lb.targets {
		t.healthy.Store(true)
		t.passes, t.fails = 0, 0
		t.connFails.Store(0)
		if t.link != nil {
			t.link.SetDown(false)
		}
	}
	lb.rebuildLocked()
}

// checkAll starts a check of every target that has none running, so a slow
// target never delays the others.
func (lb *LB) checkAll() {
	if !lb.healthOn.Load() || lb.Server.State() != engine.StateUp {
		return // a dead load balancer checks nothing
	}
	lb.mu.Lock()
	ts := lb.targets
	lb.mu.Unlock()
	for _, t := range ts {
		if !t.checking.CompareAndSwap(false, true) {
			continue
		}
		lb.wg.Add(1)
		lb.sys.Go(func(context.Context) {
			defer lb.wg.Done()
			defer t.checking.Store(false)
			lb.check(t)
		})
	}
}

// check GETs the health path of t once and counts the result.
func (lb *LB) check(t *target) {
	h := lb.cfg.Health
	ctx, cancel := lb.sys.Clock.WithTimeout(lb.ctx, h.Timeout)
	defer cancel()
	pass := lb.probe(ctx, t, h.Path)
	if lb.ctx.Err() != nil {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if !lb.healthOn.Load() || t.removed.Load() {
		return
	}
	if pass {
		t.fails = 0
		t.passes++
		if !t.healthy.Load() && t.passes >= h.Rise {
			t.healthy.Store(true)
			t.connFails.Store(0)
			lb.rebuildLocked()
			if t.link != nil {
				t.link.SetDown(false)
			}
			lb.sys.Events.Add(EvRejoin, t.name, engine.Textf("lb.rejoined", "health check passed %s", engine.Plural(t.passes, "time")))
		}
		return
	}
	t.passes = 0
	t.fails++
	if t.healthy.Load() && t.fails >= h.Fall {
		lb.ejectLocked(t, engine.Textf("lb.eject.checks", "health check failed %s", engine.Plural(t.fails, "time")))
	}
}

// probe reports whether t answered the health path with 2xx or 3xx in time.
func (lb *LB) probe(ctx context.Context, t *target, path string) bool {
	if t.link != nil && t.link.Delay(ctx) != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.addr()+path, nil)
	if err != nil {
		return false
	}
	req.Header.Set(engine.HeaderVia, lb.sys.Token)
	resp, err := lb.checks.RoundTrip(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return err == nil && resp.StatusCode >= 200 && resp.StatusCode < 400
}

// ejectLocked takes a healthy target out; the caller holds mu.
func (lb *LB) ejectLocked(t *target, why engine.Text) {
	if !t.healthy.Load() || t.removed.Load() {
		return
	}
	t.healthy.Store(false)
	t.passes = 0
	lb.rebuildLocked()
	if t.link != nil {
		t.link.SetDown(true)
	}
	lb.sys.Events.Add(EvEject, t.name, why)
}

// connFailed counts a connection failure of a real request (passive
// detection): Fall in a row take the target out.
func (lb *LB) connFailed(t *target) {
	n := t.connFails.Add(1)
	if !lb.healthOn.Load() || n < int64(lb.cfg.Health.Fall) {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.healthOn.Load() {
		lb.ejectLocked(t, engine.Textf("lb.eject.passive", "passive: %d connection failures", n))
	}
}
