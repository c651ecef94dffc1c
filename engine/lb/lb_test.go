package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"scalelab/engine"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lab is a load balancer in front of private web servers on loopback.
type lab struct {
	sys    *engine.System
	lb     *LB
	webs   []*engine.Server
	client *http.Client
}

// web is one test web server's machine: workers (0 = unbounded) and the
// service time of a request.
type web struct {
	workers int
	service time.Duration
}

// webHandler answers /health, and /x after holding a worker for the
// service time (echoing a request body, if any).
func webHandler(srv **engine.Server, service time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		s := *srv
		release, err := s.Hold(r.Context())
		if err != nil {
			if errors.Is(err, engine.ErrQueueFull) {
				s.Overloaded(w)
			}
			return
		}
		defer release()
		if s.Work(r.Context(), service) != nil {
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "hello from %s %s", s.Name(), body)
	})
	return mux
}

// newLab starts an LB and the web servers.
func newLab(t testing.TB, cfg LBConfig, webs ...web) *lab {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{sys: sys, client: &http.Client{Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}}}
	t.Cleanup(func() {
		_ = sys.Close()
		l.client.CloseIdleConnections()
	})
	lb, err := NewLB(cfg, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(lb); err != nil {
		t.Fatal(err)
	}
	l.lb = lb
	for i, spec := range webs {
		var c *engine.Capacity
		if spec.workers > 0 {
			c = engine.NewCapacity(spec.workers, 256)
		}
		var srv *engine.Server
		srv = engine.NewServer(engine.ServerConfig{Name: fmt.Sprintf("web-%d", i+1), Role: roleWeb, Capacity: c, Private: sys.Token, Boot: 100 * time.Millisecond},
			sys.Clock, sys.Events, webHandler(&srv, spec.service))
		if err := sys.AddNode(srv); err != nil {
			t.Fatal(err)
		}
		lb.AddTarget(srv, sys.AddLink(lb.Name(), srv.Name()))
		l.webs = append(l.webs, srv)
	}
	sys.Start() // lab time runs from here
	return l
}

// get sends one GET through the LB and returns the status and body; status
// 0 means the request itself failed.
func (l *lab) get(path string) (int, string) {
	resp, err := l.client.Get(l.lb.URL() + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// driver sends requests through the LB from a fixed number of workers and
// counts outcomes.
type driver struct {
	ok, failed atomic.Int64
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// drive runs workers until stop, or until limit requests (0 = no limit) in all.
func (l *lab) drive(workers int, limit int64) *driver {
	ctx, cancel := context.WithCancel(context.Background())
	d := &driver{cancel: cancel}
	var sent atomic.Int64
	for range workers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for ctx.Err() == nil {
				if limit > 0 && sent.Add(1) > limit {
					return
				}
				if code, _ := l.get("/x"); code == http.StatusOK {
					d.ok.Add(1)
				} else {
					d.failed.Add(1)
				}
			}
		}()
	}
	return d
}

func (d *driver) stop()        { d.cancel(); d.wg.Wait() }
func (d *driver) total() int64 { return d.ok.Load() + d.failed.Load() }

// waitFor polls cond until it holds or the real-time deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// event returns the first event of kind for node, if any.
func (l *lab) event(kind engine.EventKind, node string) (engine.Event, bool) {
	for _, e := range l.sys.Events.All() {
		if e.Kind == kind && e.Node == node {
			return e, true
		}
	}
	return engine.Event{}, false
}

func (l *lab) waitEvent(t testing.TB, kind engine.EventKind, node string, within time.Duration) engine.Event {
	t.Helper()
	var ev engine.Event
	waitFor(t, string(kind)+" "+node, within, func() bool {
		var ok bool
		ev, ok = l.event(kind, node)
		return ok
	})
	return ev
}

func TestLBPrivateTargets(t *testing.T) {
	l := newLab(t, DefaultLBConfig("lb-1"), web{})
	resp, err := l.client.Get(l.webs[0].URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("direct request without the token: %d, want 403", resp.StatusCode)
	}
	if code, body := l.get("/x"); code != http.StatusOK || body != "hello from web-1 " {
		t.Errorf("through the LB: %d %q", code, body)
	}
	if snap := l.lb.Snap(); !snap.Public || snap.Role != RoleLB || snap.Requests != 1 {
		t.Errorf("LB snap: %+v", snap)
	}
	if q := l.lb.PolicyLatency()[PolicyRoundRobin]; q.N != 1 {
		t.Errorf("policy latency: %+v", l.lb.PolicyLatency())
	}
}

func TestLBNoTargets(t *testing.T) {
	l := newLab(t, DefaultLBConfig("lb-1"))
	if code, body := l.get("/x"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no healthy targets") {
		t.Errorf("no targets: %d %q", code, body)
	}
}

// TestLBDrain: draining a target under load fails no request; it leaves
// the group when its last request ends and gets nothing afterwards.
func TestLBDrain(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Retries = 0 // no retry may hide a failure
	l := newLab(t, cfg, web{}, web{}, web{})
	l.webs[2].SetLatency(50 * time.Millisecond) // requests are in flight when the drain starts
	d := l.drive(6, 0)
	defer d.stop()
	waitFor(t, "warm-up traffic", 10*time.Second, func() bool { return d.total() >= 100 })
	waitFor(t, "a request in flight on web-3", 10*time.Second, func() bool { return l.lb.Targets()[2].Active > 0 })
	drained := make(chan struct{})
	if err := l.lb.Drain("web-3", func() { close(drained) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "drained", 10*time.Second, func() bool {
		select {
		case <-drained:
			return true
		default:
			return false
		}
	})
	after := l.webs[2].Snap().Requests
	atDrain := d.total()
	waitFor(t, "traffic after the drain", 10*time.Second, func() bool { return d.total() >= atDrain+200 })
	d.stop()
	if f := d.failed.Load(); f != 0 {
		t.Errorf("%d requests failed during the drain", f)
	}
	if got := l.webs[2].Snap().Requests - after; got != 0 {
		t.Errorf("web-3 got %d requests after it was drained", got)
	}
	ev, _ := l.event(EvDrain, "web-3")
	t.Logf("drain: %s", ev.Detail)
	if _, ok := l.event(EvDrained, "web-3"); !ok {
		t.Error("no drained event")
	}
	if ts := l.lb.Targets(); len(ts) != 2 || ts[0].Name != "web-1" || ts[1].Name != "web-2" {
		t.Errorf("targets after drain: %+v", ts)
	}
	if err := l.lb.Drain("web-3", nil); err == nil {
		t.Error("draining a removed target was accepted")
	}
	if err := l.lb.RemoveTarget("web-2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.event(EvRemove, "web-2"); !ok {
		t.Error("no remove event")
	}
	for range 5 {
		if code, body := l.get("/x"); code != http.StatusOK || body != "hello from web-1 " {
			t.Fatalf("after removing web-2: %d %q", code, body)
		}
	}
}

// TestLBLeastConnBeatsRoundRobin: with one slow, small target, round robin
// keeps feeding it a third of the requests, which queue there; least-conn
// sends it only what it can take, and p99 drops.
func TestLBLeastConnBeatsRoundRobin(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Enabled = false // measure the policies alone
	l := newLab(t, cfg, web{4, time.Millisecond}, web{4, time.Millisecond}, web{1, 4 * time.Millisecond})
	l.webs[2].SetLatency(20 * time.Millisecond)
	const workers, n = 24, 480
	for _, policy := range []string{PolicyRoundRobin, PolicyLeastConn} {
		if err := l.lb.SetPolicy(policy); err != nil {
			t.Fatal(err)
		}
		d := l.drive(workers, n)
		d.wg.Wait()
		if d.failed.Load() != 0 {
			t.Fatalf("%s: %d requests failed", policy, d.failed.Load())
		}
	}
	lat := l.lb.PolicyLatency()
	rr, lc := lat[PolicyRoundRobin], lat[PolicyLeastConn]
	t.Logf("p99 round-robin %s, least-conn %s (p50 %s vs %s)", rr.P99, lc.P99, rr.P50, lc.P50)
	if rr.N != n || lc.N != n {
		t.Fatalf("counted %d and %d requests, want %d each", rr.N, lc.N, n)
	}
	if lc.P99 > rr.P99*3/4 {
		t.Errorf("least-conn p99 %s is not clearly below round-robin's %s", lc.P99, rr.P99)
	}
}

// TestLBKilled: killing the LB itself is a total outage, and a restart ends it.
func TestLBKilled(t *testing.T) {
	l := newLab(t, DefaultLBConfig("lb-1"), web{}, web{})
	if code, _ := l.get("/x"); code != http.StatusOK {
		t.Fatalf("before: %d", code)
	}
	if err := l.lb.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, _ := l.get("/x"); code != 0 {
		t.Errorf("LB down, got status %d", code)
	}
	if err := l.sys.Clock.SetSpeed(engine.MaxSpeed); err != nil { // the LB boots in 2 s of lab time
		t.Fatal(err)
	}
	if err := l.lb.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the LB up after its restart", 10*time.Second, func() bool { return l.lb.State() == engine.StateUp })
	if code, _ := l.get("/x"); code != http.StatusOK {
		t.Errorf("after restart: %d", code)
	}
}

// TestLBNoLeaks: after Close, every goroutine the LB started is gone.
func TestLBNoLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		cfg := fastHealth(DefaultLBConfig("lb-1"))
		l := newLab(t, cfg, web{}, web{})
		d := l.drive(4, 100)
		d.wg.Wait()
		l.webs[1].SetLatency(time.Hour) // its health checks are in flight at Close
		if err := l.lb.Drain("web-1", nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a health check in flight", 5*time.Second, func() bool {
			return l.lb.findTarget("web-2").checking.Load()
		})
		if err := l.sys.Close(); err != nil {
			t.Fatal(err)
		}
		l.client.CloseIdleConnections()
	}()
	waitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= base })
}

func (lb *LB) findTarget(name string) *target {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.findLocked(name)
}
