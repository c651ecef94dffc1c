package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Process is what a node runs on loopback, whatever its protocol: HTTP
// servers, the Redis server, and next DNS over UDP and queue brokers.
type Process interface {
	// Listen starts serving on addr ("" the first time: a port the OS
	// picks) and returns the address it listens on. After a restart it is
	// called with the node's old address.
	Listen(addr string) (string, error)
	// Crash closes the listener and every open connection at once. It does
	// nothing when the process is not serving.
	Crash()
}

// LifecycleConfig describes a node's lifecycle.
type LifecycleConfig struct {
	Name string
	// Boot is how long a restart takes in lab time (2 s when zero).
	Boot time.Duration
	// Crashed and Up are the event details of a kill and of coming back
	// up ("up on ADDR" when Up is nil).
	Crashed Text
	Up      func(addr string) Text
	// OnKill runs after a kill; OnBoot during a restart before the node
	// listens again; OnUp after a restart brought it back.
	OnKill, OnBoot, OnUp func()
}

// Lifecycle is the one state machine every node shares: up; killed (down)
// at once, like a crash; restarting for its boot time on the lab clock; up
// again on the same address; closed for good. It logs the kill, restart and
// up events, and keeps the counters every node has: requests, errors,
// injected latency and a window of recent requests.
type Lifecycle struct {
	cfg    LifecycleConfig
	proc   Process
	clock  *Clock
	events *EventLog

	mu      sync.Mutex
	state   State
	addr    string
	closed  bool
	wg      sync.WaitGroup
	life    context.Context // ends when the node is closed
	endLife context.CancelFunc

	latency  atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64
	win      *Window
}

// NewLifecycle makes a node's lifecycle around its process; Start starts it.
func NewLifecycle(cfg LifecycleConfig, proc Process, clock *Clock, events *EventLog) *Lifecycle {
	if cfg.Boot == 0 {
		cfg.Boot = 2 * time.Second
	}
	if cfg.Crashed.Empty() {
		cfg.Crashed = Textf("node.crashed", "crashed: listener and connections closed")
	}
	life, end := context.WithCancel(context.Background())
	return &Lifecycle{cfg: cfg, proc: proc, clock: clock, events: events, state: StateDown, life: life, endLife: end, win: NewWindow(clock, 5)}
}

// Name is the node's name.
func (l *Lifecycle) Name() string { return l.cfg.Name }

// Clock and Events are the lab's.
func (l *Lifecycle) Clock() *Clock     { return l.clock }
func (l *Lifecycle) Events() *EventLog { return l.events }

// Addr is the node's host:port; it stays the same across restarts.
func (l *Lifecycle) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

// State returns up, down or restarting.
func (l *Lifecycle) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Start listens for the first time (or again on the same address).
func (l *Lifecycle) Start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("%s: closed", l.cfg.Name)
	}
	addr, err := l.proc.Listen(l.addr)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", l.cfg.Name, err)
	}
	l.addr, l.state = addr, StateUp
	return nil
}

// Kill crashes the node: its listener and every open connection close at
// once.
func (l *Lifecycle) Kill() error {
	l.mu.Lock()
	if l.state != StateUp {
		st := l.state
		l.mu.Unlock()
		return fmt.Errorf("%s is %s: %w", l.cfg.Name, st, ErrDown)
	}
	l.state = StateDown
	l.proc.Crash()
	l.mu.Unlock()
	l.events.Add(EvKill, l.cfg.Name, l.cfg.Crashed)
	if l.cfg.OnKill != nil {
		l.cfg.OnKill()
	}
	return nil
}

// Restart brings a dead node back on the same address after its boot time.
func (l *Lifecycle) Restart() error {
	l.mu.Lock()
	if l.state != StateDown || l.closed {
		st := l.state
		l.mu.Unlock()
		return fmt.Errorf("%s is %s: %w", l.cfg.Name, st, ErrNotDown)
	}
	l.state = StateRestarting
	l.mu.Unlock()
	l.events.Add(EvRestart, l.cfg.Name, Textf("node.booting", "booting (%s)", l.cfg.Boot))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if l.clock.Sleep(l.life, l.cfg.Boot) != nil {
			return // closed while booting
		}
		if l.cfg.OnBoot != nil {
			l.cfg.OnBoot()
		}
		if l.boot() && l.cfg.OnUp != nil {
			l.cfg.OnUp()
		}
	}()
	return nil
}

// boot listens again on the node's address and reports whether it is up.
func (l *Lifecycle) boot() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to free
		if l.closed || l.state != StateRestarting {
			return false
		}
		if _, err = l.proc.Listen(l.addr); err == nil {
			break
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		l.mu.Lock()
	}
	if err != nil {
		l.state = StateDown
		l.events.Add(EvInfo, l.cfg.Name, Textf("node.restart_failed", "restart failed: %v", err))
		return false
	}
	l.state = StateUp
	detail := Textf("node.up_on", "up on %s", l.addr)
	if l.cfg.Up != nil {
		detail = l.cfg.Up(l.addr)
	}
	l.events.Add(EvUp, l.cfg.Name, detail)
	return true
}

// SetLatency adds d of lab latency to everything the node serves.
func (l *Lifecycle) SetLatency(d time.Duration) { l.latency.Store(int64(d)) }

// Latency returns the injected latency.
func (l *Lifecycle) Latency() time.Duration { return time.Duration(l.latency.Load()) }

// Delay spends the injected latency on the lab clock.
func (l *Lifecycle) Delay(ctx context.Context) error {
	if d := l.Latency(); d > 0 {
		return l.clock.Sleep(ctx, d)
	}
	return nil
}

// Begin counts a request the node started to serve.
func (l *Lifecycle) Begin() { l.requests.Add(1) }

// Done records how long a request took and whether it failed.
func (l *Lifecycle) Done(d time.Duration, failed bool) {
	if failed {
		l.errors.Add(1)
	}
	l.win.Record(d, failed)
}

// Snap returns the part of a node's snapshot every node has.
func (l *Lifecycle) Snap(role Role, layer Layer) NodeSnap {
	rps, q := l.win.Stats()
	n := NodeSnap{
		Name:     l.cfg.Name,
		Role:     role,
		Layer:    layer,
		State:    l.State(),
		Addr:     l.Addr(),
		Requests: l.requests.Load(),
		Errors:   l.errors.Load(),
		RPS:      rps,
		P50:      q.P50,
		P99:      q.P99,
		Latency:  l.Latency(),
	}
	if n.State != StateUp {
		n.Addr = ""
	}
	return n
}

// Close stops the node for good and waits for its goroutines.
func (l *Lifecycle) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed, l.state = true, StateDown
	l.mu.Unlock()
	l.endLife()
	l.proc.Crash()
	l.wg.Wait()
	return nil
}
