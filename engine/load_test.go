package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
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

// ctCounter counts requests by a function of the request.
type ctCounter struct {
	mu sync.Mutex
	n  map[string]int
	by func(*http.Request) string
}

func (c *ctCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := c.by(r)
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
	io.WriteString(w, "ok")
}

func (c *ctCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func ctKeyShares(t *testing.T, zipf float64) (top5 float64, first string, distinct int) {
	t.Helper()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Query().Get("id") }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Zipf = zipf; c.Keys = 1000 })
	tot := r.run(t, 3*time.Second)
	counts := h.counts()
	type kv struct {
		k string
		n int
	}
	var all []kv
	sum := 0
	for k, n := range counts {
		all = append(all, kv{k, n})
		sum += n
		if id, err := strconv.Atoi(k); err != nil || id < 0 || id >= 1000 {
			t.Fatalf("key %q outside 0..999", k)
		}
	}
	if int64(sum) != tot.Sent {
		t.Fatalf("handler saw %d requests, generator sent %d", sum, tot.Sent)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	hot := 0
	for i := 0; i < 5 && i < len(all); i++ {
		hot += all[i].n
	}
	return float64(hot) / float64(sum), all[0].k, len(all)
}

func TestLoadZipfKeys(t *testing.T) {
	t.Parallel()
	top5, first, distinct := ctKeyShares(t, 1.5)
	if top5 < 0.40 {
		t.Errorf("zipf 1.5: the 5 hottest keys got %.1f%% of requests, want > 40%%", 100*top5)
	}
	if first != "0" {
		t.Errorf("zipf: the hottest key is %s, want 0", first)
	}
	uTop5, _, uDistinct := ctKeyShares(t, 0)
	if uTop5 > 0.03 {
		t.Errorf("uniform: the 5 hottest keys got %.1f%% of requests, want < 3%%", 100*uTop5)
	}
	if uDistinct < 700 || distinct >= uDistinct {
		t.Errorf("distinct keys: zipf %d, uniform %d of 1000", distinct, uDistinct)
	}
	t.Logf("top-5 share: zipf %.1f%%, uniform %.1f%%; distinct keys %d vs %d", 100*top5, 100*uTop5, distinct, uDistinct)
}

// SetZipf changes the key skew of a running load; bad exponents are refused.
func TestLoadSetZipfLive(t *testing.T) {
	t.Parallel()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Query().Get("id") }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Keys = 1000 })
	for _, bad := range []float64{1, 0.5, -2, 10} {
		if err := r.load.SetZipf(bad); err == nil {
			t.Errorf("SetZipf(%g) accepted", bad)
		}
	}
	if err := r.load.SetZipf(2); err != nil || r.load.Zipf() != 2 {
		t.Fatalf("SetZipf(2): %v, now %g", err, r.load.Zipf())
	}
	tot := r.run(t, 2*time.Second)
	if hot := h.counts()["0"]; float64(hot) < 0.4*float64(tot.Sent) {
		t.Errorf("with zipf 2 key 0 got %d of %d requests, want over 40%%", hot, tot.Sent)
	}
}

// Fetch and Observe replace the request and see each one's latency and tag.
func TestLoadFetchAndObserve(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tags := map[string]int{}
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) {
		c.Entry = nil
		c.Fetch = func(ctx context.Context, _ *http.Client, op Op, key, user int) (string, string) {
			if key%2 == 0 {
				return "", "even"
			}
			return ReasonRefused, "odd"
		}
		c.Observe = func(op Op, key, user int, lat time.Duration, reason, tag string) {
			mu.Lock()
			defer mu.Unlock()
			if (tag == "even") != (reason == "") || lat < 0 {
				t.Errorf("observed %s with reason %q, latency %s", tag, reason, lat)
			}
			tags[tag]++
		}
	})
	tot := r.run(t, time.Second)
	mu.Lock()
	defer mu.Unlock()
	if int64(tags["even"]) != tot.OK || int64(tags["odd"]) != tot.Failed || tot.OK == 0 || tot.Failed == 0 {
		t.Errorf("observed %v, totals %+v", tags, tot)
	}
}

func TestLoadMix(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bad []string
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string {
		ok := r.Method == http.MethodGet
		if r.URL.Path == "/post" {
			b, _ := io.ReadAll(r.Body)
			ok = r.Method == http.MethodPost && len(b) > 0 && r.URL.Query().Get("user") != ""
		} else {
			ok = ok && r.URL.Query().Get("id") != ""
		}
		c, err := r.Cookie("uid")
		ok = ok && err == nil && len(c.Value) > 1 && c.Value[0] == 'u' && r.Header.Get("X-Scalelab-User") == c.Value
		if !ok {
			mu.Lock()
			bad = append(bad, r.Method+" "+r.URL.String())
			mu.Unlock()
		}
		return r.URL.Path
	}}
	mix := Mix{OpPage: 1, OpRead: 4, OpFeed: 3, OpWrite: 2}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Mix = mix })
	tot := r.run(t, 4*time.Second)
	counts := h.counts()
	want := map[string]float64{"/page": 0.1, "/read": 0.4, "/feed": 0.3, "/post": 0.2}
	sum := 0
	for _, n := range counts {
		sum += n
	}
	if int64(sum) != tot.Sent || len(counts) != len(want) {
		t.Fatalf("paths %v (sum %d), sent %d", counts, sum, tot.Sent)
	}
	for p, share := range want {
		got := float64(counts[p]) / float64(sum)
		if got < share-0.03 || got > share+0.03 {
			t.Errorf("%s: %.1f%% of requests, want %.0f%% ±3", p, 100*got, 100*share)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d malformed requests, e.g. %s", len(bad), bad[0])
	}
	// per-op stats agree with the handler
	for op, p := range map[Op]string{OpPage: "/page", OpRead: "/read", OpFeed: "/feed", OpWrite: "/post"} {
		ok, failed, q := r.load.OpStats(op)
		if ok != int64(counts[p]) || failed != 0 || q.N != ok {
			t.Errorf("OpStats(%s) = %d ok %d failed N %d; handler saw %d", op, ok, failed, q.N, counts[p])
		}
	}
}

func TestLoadSetMixLive(t *testing.T) {
	t.Parallel()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Path }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Rate = 400 })
	r.run(t, 2*time.Second, ctHook{time.Second, func() { r.load.SetMix(Mix{OpWrite: 1}) }})
	c := h.counts()
	// the hook switches the mix just after the generator enters second 1
	if c["/read"] < 400 || c["/read"] > 500 || c["/post"] < 300 || c["/post"] > 410 || len(c) != 2 {
		t.Fatalf("reads then writes: %v", c)
	}
	// a mix with no positive weight means all reads
	r.load.SetMix(Mix{OpWrite: 0, OpFeed: -1})
	if m := r.load.mix.Load(); len(m.ops) != 1 || m.ops[0] != OpRead {
		t.Fatalf("empty mix = %+v, want all reads", m)
	}
}

func TestClassify(t *testing.T) {
	opErr := func(e error) error {
		return &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}}
	}
	readErr := func(e error) error {
		return &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)}}
	}
	tests := []struct {
		name       string
		err, cause error
		want       string
	}{
		{"refused", opErr(syscall.ECONNREFUSED), nil, ReasonRefused},
		{"reset", readErr(syscall.ECONNRESET), nil, ReasonReset},
		{"broken pipe", readErr(syscall.EPIPE), nil, ReasonReset},
		// a connection never made is refused, whatever the kernel said
		{"reset while dialling", opErr(syscall.ECONNRESET), nil, ReasonRefused},
		{"EOF", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, nil, ReasonReset},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), nil, ReasonReset},
		{"cause deadline", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, context.DeadlineExceeded, ReasonTimeout},
		{"deadline beats refused", opErr(syscall.ECONNREFUSED), context.DeadlineExceeded, ReasonTimeout},
		{"err deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nil, ReasonTimeout},
		{"os deadline", &url.Error{Op: "Get", URL: "http://x", Err: os.ErrDeadlineExceeded}, nil, ReasonTimeout},
		{"net timeout", &net.DNSError{Err: "slow", IsTimeout: true}, nil, ReasonTimeout},
		{"cancelled", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, context.Canceled, ReasonOther},
		{"other", errors.New("boom"), nil, ReasonOther},
	}
	for _, tc := range tests {
		if got := Classify(tc.err, tc.cause); got != tc.want {
			t.Errorf("%s: Classify(%v, %v) = %q, want %q", tc.name, tc.err, tc.cause, got, tc.want)
		}
	}
}

func TestLoadKilledServerRefused(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = 100 })
	if err := r.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	tot := r.run(t, time.Second)
	if tot.Sent < 95 || tot.OK != 0 || tot.FailedByReason[ReasonRefused] != tot.Sent {
		t.Fatalf("against a killed server: %+v, want every request refused", tot)
	}
	if p := r.sys.Snapshot().Series; len(p) < 1 || p[0].Sent < 95 || p[0].Failed != p[0].Sent || p[0].OK != 0 {
		t.Errorf("series %+v: want a first second with every request failed", p)
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

// A server that never answers: requests time out after the client's lab
// timeout, and past MaxInFlight the generator drops rather than queues.
func ctStuck(t *testing.T) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

func TestLoadTimeout(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) { c.Uniform = true; c.Rate = 50; c.Timeout = 300 * time.Millisecond })
	start := r.start(t)
	_ = r.sys.Clock.SleepUntil(context.Background(), start+time.Second)
	r.waitPacer(t, 1)
	r.load.SetRate(0)
	sent := r.load.Totals().Sent
	if sent < 45 {
		t.Fatalf("sent %d in 1s at 50/s", sent)
	}
	ctEventually(t, "timeouts", 10*time.Second, func() bool { return r.load.Totals().Failed >= sent })
	tot := r.load.Totals()
	if tot.OK != 0 || tot.FailedByReason[ReasonTimeout] != tot.Sent {
		t.Fatalf("against a stuck server: %+v, want every request a timeout", tot)
	}
}

func TestLoadMaxInFlight(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) {
		c.Uniform = true
		c.Rate = 100
		c.MaxInFlight = 5
		c.Timeout = time.Minute
	})
	r.start(t)
	ctEventually(t, "drops", 10*time.Second, func() bool { return r.load.Totals().FailedByReason[ReasonDropped] >= 20 })
	r.load.SetRate(0)
	// once the generator stops, exactly the cap is in flight and every
	// other request was dropped, none queued
	ctEventually(t, "generator settles", 10*time.Second, func() bool {
		tot := r.load.Totals()
		return tot.Sent-tot.Failed == 5 && r.load.inflight.Load() == 5
	})
	if tot := r.load.Totals(); tot.OK != 0 || tot.Failed != tot.FailedByReason[ReasonDropped] {
		t.Errorf("totals %+v: want 5 in flight and the rest dropped", tot)
	}
}

func TestLoadShutdownNotCountedOK(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) { c.Uniform = true; c.Rate = 100; c.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.sys.Clock.Resume()
	go func() { defer close(done); r.load.Run(ctx) }()
	ctEventually(t, "requests in flight", 10*time.Second, func() bool { return r.load.inflight.Load() >= 20 })
	cancel()
	<-done
	if tot := r.load.Totals(); tot.OK != 0 {
		t.Fatalf("the server answered nothing, yet OK = %d after stopping the load (%+v)", tot.OK, tot)
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
