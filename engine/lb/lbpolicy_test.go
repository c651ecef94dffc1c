package lb

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"scalelab/engine"
	"testing"
	"time"
)

// fakeNode is a Node that only has a name and an address; policy tests and
// benchmarks use it for targets that are not Servers.
type fakeNode struct{ name, addr string }

func (f *fakeNode) Name() string             { return f.name }
func (f *fakeNode) Role() engine.Role        { return roleWeb }
func (f *fakeNode) Addr() string             { return f.addr }
func (f *fakeNode) State() engine.State      { return engine.StateUp }
func (f *fakeNode) Kill() error              { return nil }
func (f *fakeNode) Restart() error           { return nil }
func (f *fakeNode) SetLatency(time.Duration) {}
func (f *fakeNode) Snap() engine.NodeSnap {
	return engine.NodeSnap{Name: f.name, Role: roleWeb, State: engine.StateUp}
}
func (f *fakeNode) Close() error { return nil }

// mkTargets makes targets named t0, t1, ... with the given requests in flight.
func mkTargets(active ...int64) []*target {
	ts := make([]*target, len(active))
	for i, a := range active {
		ts[i] = newTarget(&fakeNode{name: fmt.Sprintf("t%d", i)}, nil)
		ts[i].active.Store(a)
	}
	return ts
}

func mustPolicy(t *testing.T, name string) Policy {
	t.Helper()
	p, ok := NewPolicy(name, 7)
	if !ok {
		t.Fatalf("NewPolicy(%q) not found", name)
	}
	return p
}

func plainReq() *http.Request { return httptest.NewRequest(http.MethodGet, "/x", nil) }

func cookieReq(uid string) *http.Request {
	r := plainReq()
	r.AddCookie(&http.Cookie{Name: "uid", Value: uid})
	return r
}

func ipReq(remote string) *http.Request {
	r := plainReq()
	r.RemoteAddr = remote
	return r
}

// picks counts which target each of n selections chose.
func picks(p Policy, ts []*target, n int, req func(i int) *http.Request) map[string]int {
	got := map[string]int{}
	for i := range n {
		if t := p.Select(ts, req(i)); t != nil {
			got[t.name]++
		} else {
			got["<nil>"]++
		}
	}
	return got
}

func TestPolicyDistribution(t *testing.T) {
	same := func(int) *http.Request { return plainReq() }
	users := func(i int) *http.Request { return cookieReq(fmt.Sprintf("u%d", i)) }
	ips := func(i int) *http.Request { return ipReq(fmt.Sprintf("10.0.%d.%d:4000", i/250, i%250)) }
	tests := []struct {
		name   string
		policy string
		active []int64
		n      int
		req    func(int) *http.Request
		check  func(t *testing.T, got map[string]int)
	}{
		{"round robin is even", PolicyRoundRobin, []int64{0, 5, 9}, 300, same, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2"} {
				if got[n] != 100 {
					t.Errorf("%s got %d of 300, want 100: %v", n, got[n], got)
				}
			}
		}},
		{"least-conn takes the idle target", PolicyLeastConn, []int64{5, 0, 3}, 100, same, func(t *testing.T, got map[string]int) {
			if got["t1"] != 100 {
				t.Errorf("want every pick on idle t1, got %v", got)
			}
		}},
		{"least-conn shares ties", PolicyLeastConn, []int64{0, 0, 0}, 300, same, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2"} {
				if got[n] < 50 {
					t.Errorf("tie broken unevenly: %v", got)
				}
			}
		}},
		{"least-conn shares ties among the least", PolicyLeastConn, []int64{4, 1, 1}, 200, same, func(t *testing.T, got map[string]int) {
			if got["t0"] != 0 || got["t1"] < 50 || got["t2"] < 50 {
				t.Errorf("want t1 and t2 sharing, got %v", got)
			}
		}},
		{"p2c never picks the busy one of two", PolicyP2C, []int64{7, 0}, 1000, same, func(t *testing.T, got map[string]int) {
			if got["t0"] != 0 {
				t.Errorf("p2c picked the busiest target %d times: %v", got["t0"], got)
			}
		}},
		{"p2c never picks the busiest when two are idle", PolicyP2C, []int64{0, 9, 0}, 1000, same, func(t *testing.T, got map[string]int) {
			if got["t1"] != 0 || got["t0"] < 300 || got["t2"] < 300 {
				t.Errorf("want t0 and t2 sharing, never t1: %v", got)
			}
		}},
		{"p2c spreads equal targets", PolicyP2C, []int64{0, 0, 0, 0}, 4000, same, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2", "t3"} {
				if got[n] < 700 {
					t.Errorf("uneven: %v", got)
				}
			}
		}},
		{"hash-cookie spreads users", PolicyHashCookie, []int64{0, 0, 0}, 3000, users, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2"} {
				if got[n] < 800 {
					t.Errorf("users spread unevenly: %v", got)
				}
			}
		}},
		{"hash-cookie without a cookie is round robin", PolicyHashCookie, []int64{0, 0, 0}, 300, same, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2"} {
				if got[n] != 100 {
					t.Errorf("want 100 each, got %v", got)
				}
			}
		}},
		{"hash-ip spreads addresses", PolicyHashIP, []int64{0, 0, 0}, 3000, ips, func(t *testing.T, got map[string]int) {
			for _, n := range []string{"t0", "t1", "t2"} {
				if got[n] < 800 {
					t.Errorf("addresses spread unevenly: %v", got)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, picks(mustPolicy(t, tc.policy), mkTargets(tc.active...), tc.n, tc.req))
		})
	}
}

func TestPolicyEmpty(t *testing.T) {
	for _, name := range PolicyNames() {
		if got := mustPolicy(t, name).Select(nil, cookieReq("u1")); got != nil {
			t.Errorf("%s picked %s from no targets", name, got.name)
		}
	}
	if _, ok := NewPolicy("random", 1); ok {
		t.Error("NewPolicy accepted an unknown name")
	}
}

func TestHashStable(t *testing.T) {
	ts := mkTargets(0, 0, 0, 0)
	tests := []struct {
		policy string
		req    func(i int) *http.Request
	}{
		{PolicyHashCookie, func(i int) *http.Request { return cookieReq(fmt.Sprintf("u%d", i)) }},
		{PolicyHashIP, func(i int) *http.Request { return ipReq(fmt.Sprintf("192.168.1.%d:%d", i, 1000+i)) }},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			p := mustPolicy(t, tc.policy)
			first := map[int]*target{}
			for i := range 200 {
				first[i] = p.Select(ts, tc.req(i))
			}
			// The same user or address lands on the same target every time,
			// whatever the load, and another port does not matter for IPs.
			ts[0].active.Store(50)
			for range 3 {
				for i := range 200 {
					if got := p.Select(ts, tc.req(i)); got != first[i] {
						t.Fatalf("key %d moved from %s to %s", i, first[i].name, got.name)
					}
				}
			}
			// When a target leaves, only its own keys move (rendezvous).
			rest := ts[1:]
			moved := 0
			for i := range 200 {
				got := p.Select(rest, tc.req(i))
				if first[i] != ts[0] && got != first[i] {
					moved++
				}
			}
			if moved != 0 {
				t.Errorf("%d keys of remaining targets moved when t0 left", moved)
			}
		})
	}
	p := mustPolicy(t, PolicyHashIP)
	if a, b := p.Select(ts, ipReq("10.1.2.3:1111")), p.Select(ts, ipReq("10.1.2.3:2222")); a != b {
		t.Errorf("same IP, other port: %s then %s", a.name, b.name)
	}
}

// TestEligibleOnly checks that the LB offers policies only healthy targets
// that are not draining, and every target when health checks are off.
func TestEligibleOnly(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close() })
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Interval = time.Hour // no active checks during the test
	lb, err := NewLB(cfg, sys)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		lb.AddTarget(&fakeNode{name: fmt.Sprintf("web-%d", i), addr: "127.0.0.1:1"}, nil)
	}
	lb.mu.Lock()
	lb.ejectLocked(lb.findLocked("web-2"), engine.Textf("test.eject", "test"))
	web1, web2, web4 := lb.findLocked("web-1"), lb.findLocked("web-2"), lb.findLocked("web-4")
	lb.mu.Unlock()
	web4.active.Store(1) // stays in flight: drain waits
	if err := lb.Drain("web-4", nil); err != nil {
		t.Fatal(err)
	}
	if err := lb.Drain("web-4", nil); err == nil {
		t.Error("second drain of web-4 was accepted")
	}
	for _, policy := range PolicyNames() {
		if err := lb.SetPolicy(policy); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for i := range 400 {
			tg := lb.pick(lb.policy.Load().p, cookieReq(fmt.Sprintf("u%d", i)), nil)
			got[tg.name]++
			lb.release(tg)
		}
		if got["web-2"] != 0 || got["web-4"] != 0 || got["web-1"] == 0 {
			t.Errorf("%s picked ineligible targets: %v", policy, got)
		}
	}
	if err := lb.SetPolicy("round-robin"); err != nil {
		t.Fatal(err)
	}
	ts := lb.Targets()
	if len(ts) != 4 || ts[1].Healthy || !ts[3].Draining {
		t.Errorf("targets: %+v", ts)
	}
	if d := lb.Snap().Detail.String(); d != "round-robin · 3/4 healthy · 1 draining · retries 1" {
		t.Errorf("detail %q", d)
	}

	// Health off: the ejected target is eligible again; draining is not.
	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "lb.health", Str: "off"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 300 {
		tg := lb.pick(lb.policy.Load().p, plainReq(), nil)
		got[tg.name]++
		lb.release(tg)
	}
	if got["web-2"] != 100 || got["web-4"] != 0 {
		t.Errorf("health off: %v", got)
	}
	// Tried targets are skipped on a retry.
	tried := []*target{web1, web2}
	for range 10 {
		if tg := lb.pick(lb.policy.Load().p, plainReq(), tried); tg.name != "web-3" {
			t.Fatalf("retry picked %s", tg.name)
		} else {
			lb.release(tg)
		}
	}
	if err := lb.RemoveTarget("web-9"); err == nil {
		t.Error("removing an unknown target was accepted")
	}
}

func TestLBConfig(t *testing.T) {
	good := DefaultLBConfig("lb-1")
	if err := good.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	tests := []struct {
		name string
		edit func(c *LBConfig)
	}{
		{"no name", func(c *LBConfig) { c.Name = "" }},
		{"bad policy", func(c *LBConfig) { c.Policy = "random" }},
		{"retries 3", func(c *LBConfig) { c.Retries = 3 }},
		{"retries -1", func(c *LBConfig) { c.Retries = -1 }},
		{"negative interval", func(c *LBConfig) { c.Health.Interval = -time.Second }},
		{"negative fall", func(c *LBConfig) { c.Health.Fall = -1 }},
		{"relative path", func(c *LBConfig) { c.Health.Path = "health" }},
	}
	for _, tc := range tests {
		c := good
		tc.edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	zero := LBConfig{Name: "lb-2"}
	if err := zero.Validate(); err != nil {
		t.Errorf("zero fields should mean defaults: %v", err)
	}
	if d := zero.withDefaults(); d.Health.Interval != time.Second || d.Health.Fall != 2 || d.Health.Path != "/health" || d.Policy != PolicyRoundRobin {
		t.Errorf("defaults not filled: %+v", d)
	}
}

func TestLBKnobs(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close() })
	lb, err := NewLB(DefaultLBConfig("lb-1"), sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []engine.Action{
		{Kind: engine.ActSet, Key: "lb.policy", Str: "p2c"},
		{Kind: engine.ActSet, Key: "lb.retries", Str: "2"},
		{Kind: engine.ActSet, Key: "lb.health", Str: "off"},
	} {
		if err := sys.Apply(a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if lb.Policy() != "p2c" || lb.Retries() != 2 || lb.healthOn.Load() {
		t.Errorf("knobs not applied: %s %d %v", lb.Policy(), lb.Retries(), lb.healthOn.Load())
	}
	snap := sys.Snapshot()
	if snap.Knob("lb.policy") != "p2c" || snap.Knob("lb.retries") != "2" || snap.Knob("lb.health") != "off" {
		t.Errorf("snapshot knobs: %+v", snap.Knobs)
	}
	for _, a := range []engine.Action{
		{Kind: engine.ActSet, Key: "lb.policy", Str: "random"},
		{Kind: engine.ActSet, Key: "lb.retries", Str: "3"},
		{Kind: engine.ActSet, Key: "lb.health", Str: "maybe"},
	} {
		if err := sys.Apply(a); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
	if err := lb.SetRetries(5); err == nil {
		t.Error("SetRetries(5) accepted")
	}
}

// roleWeb is the role of the test targets.
const roleWeb engine.Role = "web"
