package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// ctLoadRig is a generator aimed at one plain engine.Server on loopback.
type ctLoadRig struct {
	sys  *System
	srv  *Server
	load *Load
}

// ctLoadSpeed is the lab clock speed of load tests.
const ctLoadSpeed = 1

// ctOK answers 200 to everything.
var ctOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func ctNewLoadRig(t testing.TB, h http.Handler, set func(*LoadConfig)) *ctLoadRig {
	t.Helper()
	sys, err := NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	srv := NewServer(ServerConfig{Name: "web-1", Role: Role("web")}, sys.Clock, sys.Events, h)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultLoadConfig()
	cfg.Rate = 500
	cfg.Entry = srv.URL
	// patient clients: on a loaded machine slow is not failed
	cfg.Timeout = time.Minute
	if set != nil {
		set(&cfg)
	}
	l, err := NewLoad(cfg, sys.Clock)
	if err != nil {
		t.Fatal(err)
	}
	sys.SetLoad(l) // for Snapshot; the rig runs the load itself
	// Every figure below is in lab time, so a faster clock changes nothing
	// but the wall time of the test.
	if err := sys.Clock.SetSpeed(ctLoadSpeed); err != nil {
		t.Fatal(err)
	}
	return &ctLoadRig{sys: sys, srv: srv, load: l}
}

// start runs the load until the test ends and returns the lab time it
// started at.
func (r *ctLoadRig) start(t testing.TB) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.sys.Clock.Resume()
	go func() {
		defer close(done)
		r.load.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	ctEventually(t, "load started", 5*time.Second, func() bool { return r.load.startedAt.Load() >= 0 })
	return time.Duration(r.load.startedAt.Load())
}

type ctHook struct {
	at time.Duration // lab time since the load started
	fn func()
}

// pacerPast reports whether the generator has sent a request intended for
// second sec. It sends in intended-time order, so every send intended for
// an earlier second is then done, however far behind real time it ran.
func (r *ctLoadRig) pacerPast(sec int) bool {
	r.load.mu.Lock()
	defer r.load.mu.Unlock()
	return len(r.load.seconds) > sec && r.load.seconds[sec].sent > 0
}

func (r *ctLoadRig) waitPacer(t testing.TB, sec int) {
	t.Helper()
	ctEventually(t, fmt.Sprintf("generator reaches second %d", sec), 60*time.Second, func() bool { return r.pacerPast(sec) })
}

// run runs the load for lab duration d (whole seconds), calling hooks at
// their lab times, then sets the rate to 0, waits for every request to end
// and pauses the clock. A hook and the stop also wait for the generator to
// reach that lab time, so a generator running behind on a loaded machine
// still sends exactly what was intended before each. Sends intended after
// d may have begun before the stop: count the first d seconds from series.
func (r *ctLoadRig) run(t testing.TB, d time.Duration, hooks ...ctHook) Totals {
	t.Helper()
	start := r.start(t)
	bg := context.Background()
	for _, h := range hooks {
		_ = r.sys.Clock.SleepUntil(bg, start+h.at)
		r.waitPacer(t, int(h.at/time.Second))
		h.fn()
	}
	_ = r.sys.Clock.SleepUntil(bg, start+d)
	r.waitPacer(t, int(d/time.Second))
	r.load.SetRate(0) // no more sends; the clock runs on so in-flight requests end
	ctEventually(t, "every request ended", 60*time.Second, func() bool {
		tot := r.load.Totals()
		return tot.OK+tot.Failed == tot.Sent && r.load.inflight.Load() == 0
	})
	r.sys.Clock.Pause() // freeze for the snapshot
	return r.load.Totals()
}

// series is the per-second Sent of the snapshot's first n seconds.
func (r *ctLoadRig) series(t testing.TB, n int) []int64 {
	t.Helper()
	var out []int64
	for _, p := range r.sys.Snapshot().Series {
		out = append(out, p.Sent)
	}
	if len(out) < n {
		t.Fatalf("series %v: want at least %d complete seconds", out, n)
	}
	return out[:n]
}

func ctSum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

func ctWithin(got, want int64, frac float64) bool {
	d := float64(got - want)
	if d < 0 {
		d = -d
	}
	return d <= frac*float64(want)
}

func TestLoadUniformRate(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true })
	tot := r.run(t, 4*time.Second)
	s := r.series(t, 4)
	if sent := ctSum(s); !ctWithin(sent, 2000, 0.01) || tot.Sent < sent {
		t.Fatalf("Sent = %d in 4s of lab time at 500/s uniform (total %d), want 2000 ±1%%", sent, tot.Sent)
	}
	if tot.OK != tot.Sent || tot.Failed != 0 {
		t.Fatalf("totals %+v: want every request OK", tot)
	}
	for i, n := range s {
		if !ctWithin(n, 500, 0.01) {
			t.Errorf("second %d sent %d, want 500 ±1%%", i, n)
		}
	}
	if n := r.srv.Snap().Requests; n != tot.Sent {
		t.Errorf("server handled %d requests, generator sent %d", n, tot.Sent)
	}
}

func TestLoadPoissonRate(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, nil)
	tot := r.run(t, 4*time.Second)
	s := r.series(t, 4)
	if sent := ctSum(s); !ctWithin(sent, 2000, 0.10) {
		t.Fatalf("Sent = %d in 4s of lab time at 500/s Poisson, want 2000 ±10%%", sent)
	}
	if tot.OK != tot.Sent || tot.Failed != 0 {
		t.Fatalf("totals %+v: want every request OK", tot)
	}
	// Poisson gaps are random: the seconds are not all exactly 500
	same := true
	for _, n := range s {
		same = same && n == s[0]
	}
	if same {
		t.Fatalf("Poisson arrivals gave identical seconds %v", s)
	}
}

func TestLoadRateChange(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true })
	var base float64
	r.run(t, 4*time.Second,
		ctHook{2 * time.Second, func() { r.load.SetRate(100) }},
		ctHook{3 * time.Second, func() { base = r.load.BaseRate() }})
	s := r.series(t, 4)
	if !ctWithin(s[0], 500, 0.01) || !ctWithin(s[1], 500, 0.01) {
		t.Errorf("before the change: %v, want 500/s", s[:2])
	}
	if s[2] < 90 || s[2] > 300 { // the hook runs a little after the generator enters second 2
		t.Errorf("second 2 (rate set to 100 at its start) sent %d", s[2])
	}
	if !ctWithin(s[3], 100, 0.05) {
		t.Errorf("after the change: second 3 sent %d, want ~100", s[3])
	}
	if base != 100 {
		t.Errorf("BaseRate = %v after SetRate(100)", base)
	}
}

func TestLoadSpike(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = 200 })
	var during, after Snapshot
	r.run(t, 4*time.Second,
		ctHook{time.Second, func() { r.load.Spike(3, 2*time.Second) }},
		ctHook{1500 * time.Millisecond, func() { during = r.sys.Snapshot() }},
		ctHook{3500 * time.Millisecond, func() { after = r.sys.Snapshot() }},
	)
	if during.Rate != 600 || during.BaseRate != 200 || during.SpikeLeft <= 0 || during.SpikeLeft > 2*time.Second {
		t.Errorf("snapshot during the spike: Rate %v BaseRate %v SpikeLeft %v", during.Rate, during.BaseRate, during.SpikeLeft)
	}
	s := r.series(t, 4)
	// The hook starts the spike just after the generator enters second 1;
	// the spike lasts 2s of lab time from then, so it covers most of second
	// 1, all of second 2 and a sliver of second 3 (more of it if the
	// generator was running behind the clock).
	if !ctWithin(s[0], 200, 0.01) {
		t.Errorf("before the spike sent %d, want 200 (series %v)", s[0], s)
	}
	if s[1] < 500 || s[1] > 610 {
		t.Errorf("second 1 (spike starts) sent %d, want ~600 (series %v)", s[1], s)
	}
	if !ctWithin(s[2], 600, 0.02) {
		t.Errorf("second 2 (inside the spike) sent %d, want 600 (series %v)", s[2], s)
	}
	if s[3] < 195 || s[3] > 400 {
		t.Errorf("second 3 (spike over) sent %d, want ~200 (series %v)", s[3], s)
	}
	if after.Rate != 200 || after.SpikeLeft != 0 {
		t.Errorf("after the spike: Rate %v SpikeLeft %v", after.Rate, after.SpikeLeft)
	}
}

func TestLoadLatencyFromIntendedTime(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = 100 })
	r.srv.SetLatency(50 * time.Millisecond)
	tot := r.run(t, 2*time.Second)
	if tot.OK != tot.Sent || tot.Sent < 190 {
		t.Fatalf("totals %+v", tot)
	}
	q := r.sys.Snapshot().Latency
	if q.P50 < 50*time.Millisecond || q.N != tot.OK {
		t.Fatalf("with 50ms injected latency p50 = %v (N %d)", q.P50, q.N)
	}
	if q.P50 > 500*time.Millisecond {
		t.Fatalf("p50 %v is far above the injected 50ms", q.P50)
	}
	for _, p := range r.sys.Snapshot().Series {
		if p.OK > 0 && p.P50 < 50*time.Millisecond {
			t.Errorf("second %d p50 %v < 50ms", p.Sec, p.P50)
		}
	}
}

// A stall of the generator itself (here: its lock held for 500 ms, as a
// long GC pause or a descheduled process would) delays the sends due in
// it. Latency counts from each request's intended send time, so the stall
// shows in p99: measured from the actual send, those requests would look
// instant (coordinated omission).
func TestLoadStallCountsFromIntendedTime(t *testing.T) {
	t.Parallel()
	const stall = 500 * time.Millisecond
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = 100 })
	tot := r.run(t, 3*time.Second, ctHook{at: time.Second, fn: func() {
		r.load.mu.Lock()
		_ = r.sys.Clock.Sleep(context.Background(), stall)
		r.load.mu.Unlock()
	}})
	if tot.OK != tot.Sent || tot.Sent < 290 {
		t.Fatalf("totals %+v", tot)
	}
	// 50 of about 300 sends were due in the stall, their latencies spread
	// from 500 ms down to 0: the 99th percentile is near the stall's length
	q := r.sys.Snapshot().Latency
	t.Logf("p50 %v, p99 %v, max %v", q.P50, q.P99, q.Max)
	if q.P99 < 4*stall/5 {
		t.Errorf("p99 %v after a %v stall of the generator; want at least %v", q.P99, stall, 4*stall/5)
	}
	if q.P50 > 100*time.Millisecond {
		t.Errorf("p50 %v: most requests were not in the stall and should be fast", q.P50)
	}
}

func TestLoadConfigValidate(t *testing.T) {
	t.Parallel()
	entry := func() string { return "http://127.0.0.1:1" }
	good := DefaultLoadConfig()
	good.Entry = entry
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with an entry: %v", err)
	}
	for name, set := range map[string]func(*LoadConfig){
		"negative rate": func(c *LoadConfig) { c.Rate = -1 },
		"rate too high": func(c *LoadConfig) { c.Rate = MaxRate + 1 },
		"no entry":      func(c *LoadConfig) { c.Entry = nil },
		"no keys":       func(c *LoadConfig) { c.Keys = 0 },
		"no users":      func(c *LoadConfig) { c.Users = 0 },
		"zipf 1":        func(c *LoadConfig) { c.Zipf = 1 },
		"zipf 0.5":      func(c *LoadConfig) { c.Zipf = 0.5 },
		"no timeout":    func(c *LoadConfig) { c.Timeout = 0 },
		"no in-flight":  func(c *LoadConfig) { c.MaxInFlight = 0 },
	} {
		c := good
		set(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := NewLoad(c, NewClock()); err == nil {
			t.Errorf("%s: NewLoad accepted it", name)
		}
	}
}

// ctEventually polls cond until it holds or within (real time) passes.
func ctEventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
