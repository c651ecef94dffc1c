package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

func fastHealth(cfg LBConfig) LBConfig {
	cfg.Health.Interval = 200 * time.Millisecond
	cfg.Health.Timeout = 100 * time.Millisecond
	return cfg
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

// TestLBKillProtected: with health checks and a retry, killing one of three
// targets under load is nearly invisible to clients, the target is ejected
// quickly and rejoins after a restart.
func TestLBKillProtected(t *testing.T) {
	cfg := fastHealth(DefaultLBConfig("lb-1"))
	l := newLab(t, cfg, web{}, web{}, web{})
	d := l.drive(8, 0)
	defer d.stop()
	waitFor(t, "warm-up traffic", 10*time.Second, func() bool { return d.total() >= 200 })
	if err := l.webs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	atKill := d.total()
	waitFor(t, "traffic after the kill", 10*time.Second, func() bool { return d.total() >= atKill+600 })
	d.stop()
	ok, failed := d.ok.Load(), d.failed.Load()
	if share := float64(failed) / float64(ok+failed); share >= 0.01 {
		t.Errorf("failed share %.2f%% (%d of %d), want < 1%%", 100*share, failed, ok+failed)
	}
	kill, _ := l.event(engine.EvKill, "web-2")
	eject := l.waitEvent(t, EvEject, "web-2", 5*time.Second)
	if took := eject.T - kill.T; took > cfg.Health.Interval*time.Duration(cfg.Health.Fall)+time.Second {
		t.Errorf("ejected %s after the kill", took)
	}
	t.Logf("%d ok, %d failed; ejected after %s (%s)", ok, failed, eject.T-kill.T, eject.Detail)
	if ts := l.lb.Targets(); ts[1].Healthy || !ts[0].Healthy || !ts[2].Healthy {
		t.Errorf("targets after kill: %+v", ts)
	}
	if d := l.lb.Snap().Detail; d != "round-robin · 2/3 healthy · retries 1" {
		t.Errorf("detail %q", d)
	}
	if links := l.sys.Snapshot().Links; links[1].Up || !links[0].Up {
		t.Errorf("links after eject: %+v", links)
	}

	// Restart: health checks put it back and it gets traffic again.
	if err := l.webs[1].Restart(); err != nil {
		t.Fatal(err)
	}
	rejoin := l.waitEvent(t, EvRejoin, "web-2", 10*time.Second)
	t.Logf("rejoined: %s", rejoin.Detail)
	before := l.webs[1].Snap().Requests
	for range 30 {
		if code, _ := l.get("/x"); code != http.StatusOK {
			t.Fatalf("after rejoin: %d", code)
		}
	}
	if got := l.webs[1].Snap().Requests - before; got < 5 {
		t.Errorf("web-2 got %d of 30 requests after rejoining", got)
	}
}

// TestLBActiveChecks: with no traffic at all, health checks alone find a
// dead target within Interval×Fall and take it back after Rise passes.
func TestLBActiveChecks(t *testing.T) {
	cfg := fastHealth(DefaultLBConfig("lb-1"))
	l := newLab(t, cfg, web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	kill, _ := l.event(engine.EvKill, "web-1")
	eject := l.waitEvent(t, EvEject, "web-1", 5*time.Second)
	if !strings.HasPrefix(eject.Detail, "health check failed 2 times") {
		t.Errorf("eject detail %q", eject.Detail)
	}
	if took := eject.T - kill.T; took > cfg.Health.Interval*time.Duration(cfg.Health.Fall)+time.Second {
		t.Errorf("ejected %s after the kill", took)
	}
	for range 10 {
		if code, body := l.get("/x"); code != http.StatusOK || body != "hello from web-2 " {
			t.Fatalf("with web-1 out: %d %q", code, body)
		}
	}
	if err := l.webs[0].Restart(); err != nil {
		t.Fatal(err)
	}
	l.waitEvent(t, EvRejoin, "web-1", 10*time.Second)
	if ts := l.lb.Targets(); !ts[0].Healthy {
		t.Errorf("web-1 not healthy after rejoin: %+v", ts)
	}
}

// TestLBKillUnprotected: with no health checks and no retries, the dead
// target keeps its third of the traffic and those requests fail.
func TestLBKillUnprotected(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Enabled, cfg.Retries = false, 0
	l := newLab(t, cfg, web{}, web{}, web{})
	d := l.drive(6, 0)
	defer d.stop()
	waitFor(t, "warm-up traffic", 10*time.Second, func() bool { return d.total() >= 100 })
	if d.failed.Load() != 0 {
		t.Fatalf("%d failures before the kill", d.failed.Load())
	}
	if err := l.webs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	ok0, failed0 := d.ok.Load(), d.failed.Load()
	waitFor(t, "traffic after the kill", 10*time.Second, func() bool { return d.total() >= ok0+failed0+600 })
	d.stop()
	ok, failed := d.ok.Load()-ok0, d.failed.Load()-failed0
	share := float64(failed) / float64(ok+failed)
	t.Logf("after the kill: %d ok, %d failed (%.1f%%)", ok, failed, 100*share)
	if share < 0.2 || share > 0.45 {
		t.Errorf("failed share %.1f%%, want about a third", 100*share)
	}
	if _, ejected := l.event(EvEject, "web-2"); ejected {
		t.Error("web-2 was ejected with health checks off")
	}
	if ts := l.lb.Targets(); ts[1].Failures < failed*9/10 {
		t.Errorf("web-2 failures %d, clients saw %d", ts[1].Failures, failed)
	}
}

// TestLBHealthOffLive: switching health checks off live puts an ejected
// target back in rotation.
func TestLBHealthOffLive(t *testing.T) {
	l := newLab(t, fastHealth(DefaultLBConfig("lb-1")), web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	l.waitEvent(t, EvEject, "web-1", 5*time.Second)
	if err := l.sys.Apply(engine.Action{Kind: engine.ActSet, Key: "lb.health", Str: "off"}); err != nil {
		t.Fatal(err)
	}
	if err := l.lb.SetRetries(0); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range 20 {
		code, _ := l.get("/x")
		codes[code]++
	}
	if codes[http.StatusBadGateway] != 10 || codes[http.StatusOK] != 10 {
		t.Errorf("health off, retries 0, one of two dead: %v", codes)
	}
}

// TestLBRetryResendsBody: a POST refused by a dead target is resent, body
// and all, to another.
func TestLBRetryResendsBody(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Enabled = false // keep sending to the dead one: every other request retries
	l := newLab(t, cfg, web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		body := fmt.Sprintf("payload-%d", i)
		resp, err := l.client.Post(l.lb.URL()+"/x", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != "hello from web-2 "+body {
			t.Errorf("POST %d: %d %q", i, resp.StatusCode, got)
		}
	}
	if ts := l.lb.Targets(); ts[0].Failures == 0 || ts[0].Failures != ts[0].Requests || ts[1].Requests != 10 {
		t.Errorf("targets: %+v", ts)
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

// TestLBForwardedHeaders: the target sees the token and the client's
// address, and hop-by-hop headers do not cross.
func TestLBForwardedHeaders(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close() })
	got := make(chan http.Header, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			got <- r.Header.Clone()
		}
		w.Header().Set("Keep-Alive", "timeout=5")
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	lb, err := NewLB(DefaultLBConfig("lb-1"), sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(lb); err != nil {
		t.Fatal(err)
	}
	lb.AddTarget(&fakeNode{name: "web-1", addr: ln.Addr().String()}, nil)
	req, _ := http.NewRequest(http.MethodGet, lb.URL()+"/x?id=3", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Proxy-Authorization", "secret")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("response %d %v", resp.StatusCode, resp.Header)
	}
	h := <-got
	if h.Get(engine.HeaderVia) != sys.Token || h.Get("X-Forwarded-For") != "203.0.113.9, 127.0.0.1" || h.Get("Proxy-Authorization") != "" {
		t.Errorf("forwarded headers: %v", h)
	}
}
