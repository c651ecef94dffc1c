package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"sync"
	"testing"
	"time"
)

// ctNode is an in-memory node for topology tests.
type ctNode struct {
	name string
	role engine.Role

	mu      sync.Mutex
	state   engine.State
	latency time.Duration
	closed  int
}

func newCTNode(name string, role engine.Role) *ctNode {
	return &ctNode{name: name, role: role, state: engine.StateUp}
}

func (n *ctNode) Name() string      { return n.name }
func (n *ctNode) Role() engine.Role { return n.role }
func (n *ctNode) Addr() string      { return "127.0.0.1:1" }
func (n *ctNode) State() engine.State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}
func (n *ctNode) set(st engine.State) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state = st
}
func (n *ctNode) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == engine.StateDown {
		return fmt.Errorf("%s: %w", n.name, engine.ErrDown)
	}
	n.state = engine.StateDown
	return nil
}
func (n *ctNode) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != engine.StateDown {
		return fmt.Errorf("%s: %w", n.name, engine.ErrNotDown)
	}
	n.state = engine.StateUp
	return nil
}
func (n *ctNode) SetLatency(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latency = d
}
func (n *ctNode) Snap() engine.NodeSnap {
	n.mu.Lock()
	defer n.mu.Unlock()
	return engine.NodeSnap{Name: n.name, Role: n.role, State: n.state, Latency: n.latency}
}
func (n *ctNode) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed++
	return nil
}

// ctTopology is web-1..3 and db-1 as in-memory nodes, and a link web-1>db-1.
func ctTopology(t *testing.T, seed int64) (*engine.System, map[string]*ctNode) {
	t.Helper()
	sys, err := engine.NewSystem(seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	nodes := map[string]*ctNode{}
	for _, n := range []*ctNode{newCTNode("web-1", web.RoleWeb), newCTNode("web-2", web.RoleWeb), newCTNode("web-3", web.RoleWeb), newCTNode("db-1", sqldb.RoleDB)} {
		if err := sys.AddNode(n); err != nil {
			t.Fatal(err)
		}
		nodes[n.name] = n
	}
	sys.AddLink("web-1", "db-1")
	return sys, nodes
}

func ctNames(ns []engine.Node) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return strings.Join(out, ",")
}

func ctEvent(sys *engine.System, kind engine.EventKind, node string) (engine.Event, bool) {
	for _, e := range sys.Events.All() {
		if e.Kind == kind && e.Node == node {
			return e, true
		}
	}
	return engine.Event{}, false
}

func TestSystemResolve(t *testing.T) {
	sys, nodes := ctTopology(t, 7)
	for target, want := range map[string]string{
		"web-2": "web-2",
		"db-1":  "db-1",
		"@web":  "web-1,web-2,web-3",
		"@db":   "db-1",
	} {
		got, err := sys.Resolve(target)
		if err != nil || ctNames(got) != want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", target, ctNames(got), err, want)
		}
	}

	picks := func(s *engine.System, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			got, err := s.Resolve("@random-web")
			if err != nil || len(got) != 1 {
				t.Fatalf("@random-web: %v %v", got, err)
			}
			out = append(out, got[0].Name())
		}
		return out
	}
	first := picks(sys, 60)
	seen := map[string]int{}
	for _, p := range first {
		seen[p]++
	}
	if len(seen) != 3 {
		t.Errorf("60 picks of @random-web hit %v; want all three", seen)
	}
	// seeded: the same seed and topology pick the same nodes
	again, _ := ctTopology(t, 7)
	if a, b := strings.Join(first, ","), strings.Join(picks(again, 60), ","); a != b {
		t.Errorf("same seed, different picks:\n%s\n%s", a, b)
	}

	// only up nodes are picked; @role still lists every node of the role
	nodes["web-2"].set(engine.StateDown)
	nodes["web-3"].set(engine.StateSaturated)
	for _, p := range picks(sys, 60) {
		if p == "web-2" {
			t.Fatal("@random-web picked a down node")
		}
	}
	if got, _ := sys.Resolve("@web"); len(got) != 3 {
		t.Errorf("@web with one down = %s, want all three", ctNames(got))
	}

	nodes["db-1"].set(engine.StateDown)
	for _, target := range []string{"web-9", "@cache", "@random-cache", "@random-db", ""} {
		if got, err := sys.Resolve(target); !errors.Is(err, engine.ErrUnknownTarget) {
			t.Errorf("Resolve(%q) = %s, %v; want ErrUnknownTarget", target, ctNames(got), err)
		}
	}
	if _, err := sys.Resolve("web-9"); !strings.Contains(err.Error(), "web-1, web-2, web-3, db-1") {
		t.Errorf("unknown node error %q does not list the nodes", err)
	}
}

func TestSystemCheck(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	if err := sys.Check(engine.Action{Kind: engine.ActSet, Key: "lb.policy", Str: "x"}); !errors.Is(err, engine.ErrUnknownKnob) {
		t.Fatalf("set on a system with no knobs = %v, want ErrUnknownKnob", err)
	}
	policy := "round-robin"
	sys.AddKnob(engine.NewKnob("lb.policy", []string{"round-robin", "least-conn"}, policy, func(v string) error { policy = v; return nil }))
	sys.AddKnob(engine.NewKnob("cache.ttl", nil, "", func(string) error { return nil }))

	err := sys.Check(engine.Action{Kind: engine.ActSet, Key: "lb.polcy", Str: "least-conn"})
	if !errors.Is(err, engine.ErrUnknownKnob) || !strings.Contains(err.Error(), "lb.policy, cache.ttl") {
		t.Errorf("unknown knob: %v, want ErrUnknownKnob naming the knobs", err)
	}
	err = sys.Check(engine.Action{Kind: engine.ActSet, Key: "lb.policy", Str: "random"})
	if err == nil || errors.Is(err, engine.ErrUnknownKnob) || !strings.Contains(err.Error(), "round-robin, least-conn") || !strings.Contains(err.Error(), `"random"`) {
		t.Errorf("value not in Values: %v", err)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "lb.policy", Str: "random"}); err == nil || policy != "round-robin" {
		t.Errorf("Apply of a bad value: %v, knob now %q", err, policy)
	}
	for _, a := range []engine.Action{
		{Kind: engine.ActSet, Key: "lb.policy", Str: "least-conn"},
		{Kind: engine.ActSet, Key: "cache.ttl", Str: "anything at all"},
		{Kind: engine.ActKill, Target: "@web"},
		{Kind: engine.ActLatency, Target: "web-1>db-1", Dur: time.Millisecond},
		{Kind: engine.ActLatency, Target: "@random-web", Dur: time.Millisecond},
		{Kind: engine.ActPause}, {Kind: engine.ActResume}, {Kind: engine.ActSpeed, Value: 2},
	} {
		if err := sys.Check(a); err != nil {
			t.Errorf("Check(%v) = %v", a, err)
		}
	}
	for _, c := range []struct {
		a    engine.Action
		want error
	}{
		{engine.Action{Kind: engine.ActKill, Target: "web-9"}, engine.ErrUnknownTarget},
		{engine.Action{Kind: engine.ActRestart, Target: "@cache"}, engine.ErrUnknownTarget},
		{engine.Action{Kind: engine.ActLatency, Target: "web-1>web-2", Dur: time.Millisecond}, engine.ErrUnknownTarget},
		{engine.Action{Kind: engine.ActLatency, Target: "web-9", Dur: time.Millisecond}, engine.ErrUnknownTarget},
		{engine.Action{Kind: engine.ActRate, Value: 10}, engine.ErrNotSupported},
		{engine.Action{Kind: engine.ActSpike, Value: 2, Dur: time.Second}, engine.ErrNotSupported},
		{engine.Action{Kind: engine.ActAdd, Target: "web"}, engine.ErrNotSupported},
		{engine.Action{Kind: engine.ActDrain, Target: "web-1"}, engine.ErrNotSupported},
	} {
		if err := sys.Check(c.a); !errors.Is(err, c.want) {
			t.Errorf("Check(%v) = %v, want %v", c.a, err, c.want)
		}
	}
	sys.Handle(engine.ActRemove, func(engine.Action) error { return nil })
	if err := sys.Check(engine.Action{Kind: engine.ActRemove, Target: "web-9"}); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("remove of an unknown node: %v", err)
	}
	err = sys.Apply(engine.Action{Kind: "explode", Target: "web-1"})
	if !errors.Is(err, engine.ErrUnknownAction) || !strings.Contains(err.Error(), `unknown action "explode"`) || strings.Contains(err.Error(), "deploy") {
		t.Errorf("unknown kind: %v", err)
	}
	// a component's kind is carried out by its handler, with its target,
	// and the refusal of an unknown kind lists it
	var got []engine.Action
	sys.Handle("deploy", func(a engine.Action) error { got = append(got, a); return nil })
	if err := sys.Apply(engine.Action{Kind: "deploy", Target: "origin"}); err != nil || len(got) != 1 || got[0].Target != "origin" {
		t.Errorf("deploy through its handler: %v, handler saw %v", err, got)
	}
	if err := sys.Check(engine.Action{Kind: "explode"}); err == nil || !strings.HasSuffix(err.Error(), ", deploy)") {
		t.Errorf("unknown kind with a handler registered: %v, want the chapter's own kinds listed", err)
	}
}

func TestSystemApplySet(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	policy := "round-robin"
	sys.AddKnob(engine.NewKnob("lb.policy", []string{"round-robin", "least-conn", "p2c"}, policy, func(v string) error { policy = v; return nil }))
	errBroken := errors.New("broken knob")
	sys.AddKnob(engine.NewKnob("broken", nil, "", func(string) error { return errBroken }))

	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "lb.policy", Str: "least-conn"}); err != nil {
		t.Fatal(err)
	}
	if policy != "least-conn" {
		t.Fatalf("knob = %q after set", policy)
	}
	snap := sys.Snapshot()
	if snap.Knob("lb.policy") != "least-conn" || len(snap.Knobs) != 2 || len(snap.Knobs[0].Values) != 3 {
		t.Errorf("snapshot knobs %+v", snap.Knobs)
	}
	e, ok := ctEvent(sys, engine.EvSet, "lb.policy")
	if !ok || e.Detail != "least-conn" {
		t.Errorf("set event %+v %v", e, ok)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "broken", Str: "x"}); !errors.Is(err, errBroken) {
		t.Errorf("a failing Set: %v, want it wrapped", err)
	}
	if _, ok := ctEvent(sys, engine.EvSet, "broken"); ok {
		t.Error("a failing set was logged as done")
	}
}

func TestSystemApplyRateSpike(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	cfg := engine.DefaultLoadConfig()
	cfg.Entry = func() string { return "http://127.0.0.1:1" }
	l, err := engine.NewLoad(cfg, sys.Clock)
	if err != nil {
		t.Fatal(err)
	}
	sys.SetLoad(l)
	if s := sys.Snapshot(); s.Rate != 200 || s.BaseRate != 200 {
		t.Fatalf("before: Rate %v BaseRate %v", s.Rate, s.BaseRate)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActRate, Value: 800}); err != nil {
		t.Fatal(err)
	}
	if s := sys.Snapshot(); s.Rate != 800 || s.BaseRate != 800 || s.SpikeLeft != 0 {
		t.Fatalf("after rate 800: Rate %v BaseRate %v SpikeLeft %v", s.Rate, s.BaseRate, s.SpikeLeft)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSpike, Value: 3, Dur: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// the clock is paused (the system has not started), so the spike has 10s left exactly
	if s := sys.Snapshot(); s.Rate != 2400 || s.BaseRate != 800 || s.SpikeLeft != 10*time.Second {
		t.Fatalf("during spike: Rate %v BaseRate %v SpikeLeft %v", s.Rate, s.BaseRate, s.SpikeLeft)
	}
	for _, k := range []engine.EventKind{engine.EvRate, engine.EvSpike} {
		if _, ok := ctEvent(sys, k, "load"); !ok {
			t.Errorf("no %s event", k)
		}
	}
	// a new spike replaces the old one, and ends after its lab duration
	if err := sys.Apply(engine.Action{Kind: engine.ActSpike, Value: 2, Dur: time.Second}); err != nil {
		t.Fatal(err)
	}
	if s := sys.Snapshot(); s.Rate != 1600 || s.SpikeLeft != time.Second {
		t.Fatalf("second spike: Rate %v SpikeLeft %v", s.Rate, s.SpikeLeft)
	}
	if err := sys.Clock.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	if err := sys.Clock.Sleep(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	if s := sys.Snapshot(); s.Rate != 800 || s.SpikeLeft != 0 {
		t.Fatalf("after the spike: Rate %v SpikeLeft %v", s.Rate, s.SpikeLeft)
	}
}

func TestSystemApplyNodes(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "@web"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		if nodes[n].State() != engine.StateDown {
			t.Errorf("%s is %s after kill @web", n, nodes[n].State())
		}
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "web-1"}); !errors.Is(err, engine.ErrDown) {
		t.Errorf("kill of a down node: %v, want ErrDown", err)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActRestart, Target: "web-1"}); err != nil || nodes["web-1"].State() != engine.StateUp {
		t.Errorf("restart web-1: %v, %s", err, nodes["web-1"].State())
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActRestart, Target: "@random-web"}); !errors.Is(err, engine.ErrNotDown) {
		t.Errorf("restart @random-web (only web-1 is up): %v, want ErrNotDown", err)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActLatency, Target: "web-2", Dur: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActLatency, Target: "web-1>db-1", Dur: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	snap := sys.Snapshot()
	if n, _ := snap.Node("web-2"); n.Latency != 200*time.Millisecond {
		t.Errorf("web-2 latency %v", n.Latency)
	}
	if len(snap.Links) != 1 || snap.Links[0].Latency != 50*time.Millisecond || snap.Links[0].ID() != "web-1>db-1" {
		t.Errorf("links %+v", snap.Links)
	}
	if nodes["web-1"].latency != 0 {
		t.Error("link latency landed on the node")
	}
	e, ok := ctEvent(sys, engine.EvLatency, "web-1>db-1")
	if !ok || e.Detail != "+50ms" {
		t.Errorf("latency event %+v", e)
	}
}

func TestSystemApplyPartition(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	link, _ := sys.Link("web-1>db-1")
	if err := sys.Apply(engine.Action{Kind: engine.ActCut, Target: "db-1"}); err != nil {
		t.Fatal(err)
	}
	snap := sys.Snapshot()
	if n, _ := snap.Node("db-1"); !n.Partitioned || n.State != engine.StateUp {
		t.Errorf("partitioned db-1: %+v, want up and partitioned", n)
	}
	if err := link.Delay(context.Background()); !errors.Is(err, engine.ErrPartitioned) {
		t.Errorf("a hop to a partitioned node: %v, want ErrPartitioned", err)
	}
	if _, ok := ctEvent(sys, engine.EvPartition, "db-1"); !ok {
		t.Error("no partition event")
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActHeal, Target: "db-1"}); err != nil {
		t.Fatal(err)
	}
	snap = sys.Snapshot()
	if n, _ := snap.Node("db-1"); n.Partitioned {
		t.Error("healed db-1 still partitioned")
	}
	if err := link.Delay(context.Background()); err != nil {
		t.Errorf("hop after heal: %v", err)
	}
	if _, ok := ctEvent(sys, engine.EvHeal, "db-1"); !ok {
		t.Error("no heal event")
	}
	if err := sys.Check(engine.Action{Kind: engine.ActCut, Target: "db-9"}); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("partition of an unknown node: %v", err)
	}
}

func TestSystemApplyClock(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	sys.Clock.Resume()
	if err := sys.Apply(engine.Action{Kind: engine.ActPause}); err != nil {
		t.Fatal(err)
	}
	if s := sys.Snapshot(); !sys.Clock.Paused() || !s.Paused {
		t.Fatal("pause did not pause")
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActResume}); err != nil || sys.Clock.Paused() {
		t.Fatalf("resume: %v, paused %v", err, sys.Clock.Paused())
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSpeed, Value: 2}); err != nil {
		t.Fatal(err)
	}
	if s := sys.Snapshot(); s.Speed != 2 || sys.Clock.Speed() != 2 {
		t.Fatalf("speed: snapshot %v clock %v", s.Speed, sys.Clock.Speed())
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSpeed, Value: 8}); !errors.Is(err, engine.ErrSpeed) || sys.Clock.Speed() != 2 {
		t.Fatalf("speed 8: %v, clock %v", err, sys.Clock.Speed())
	}
	for _, k := range []engine.EventKind{engine.EvPause, engine.EvResume, engine.EvSpeed} {
		if _, ok := ctEvent(sys, k, "clock"); !ok {
			t.Errorf("no %s event", k)
		}
	}
}

func TestSystemApplyHandlers(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	var got []engine.Action
	for _, k := range []engine.Kind{engine.ActAdd, engine.ActRemove, engine.ActDrain} {
		sys.Handle(k, func(a engine.Action) error { got = append(got, a); return nil })
	}
	errFull := errors.New("no room")
	acts := []engine.Action{{Kind: engine.ActAdd, Target: "web"}, {Kind: engine.ActRemove, Target: "web-3"}, {Kind: engine.ActDrain, Target: "@random-web"}}
	for _, a := range acts {
		if err := sys.Apply(a); err != nil {
			t.Fatalf("%v: %v", a, err)
		}
	}
	if len(got) != 3 || got[0] != acts[0] || got[1] != acts[1] || got[2] != acts[2] {
		t.Fatalf("handlers saw %+v", got)
	}
	sys.Handle(engine.ActAdd, func(engine.Action) error { return errFull })
	if err := sys.Apply(engine.Action{Kind: engine.ActAdd, Target: "web"}); !errors.Is(err, errFull) {
		t.Fatalf("handler error: %v", err)
	}
}

func TestSystemSnapshot(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	sys.AddLink("web-2", "db-1")
	sys.AddKnob(engine.NewKnob("web.size", engine.SizeNames(), "small", func(string) error { return nil }))
	sys.AddGauges(func() []engine.Gauge {
		return []engine.Gauge{{Name: "hit ratio", Value: 87.5, Unit: "%"}, {Name: "cost", Value: 0.1, Unit: "$/h", Modelled: true}}
	})
	sys.Events.Add(engine.EvInfo, "lab", "hello %d", 1)

	snap := sys.Snapshot()
	if len(snap.Nodes) != 4 || snap.Nodes[0].Name != "web-1" || snap.Nodes[3].Name != "db-1" || snap.Nodes[3].Role != sqldb.RoleDB {
		t.Fatalf("nodes %+v", snap.Nodes)
	}
	if !snap.Paused || snap.Speed != 1 || snap.T > time.Millisecond {
		t.Errorf("a system not started: T %v Paused %v Speed %v", snap.T, snap.Paused, snap.Speed)
	}
	up := func() map[string]bool {
		out := map[string]bool{}
		for _, l := range sys.Snapshot().Links {
			out[l.ID()] = l.Up
		}
		return out
	}
	if u := up(); !u["web-1>db-1"] || !u["web-2>db-1"] || len(u) != 2 {
		t.Fatalf("links %v", u)
	}
	nodes["web-2"].set(engine.StateDown)
	if u := up(); !u["web-1>db-1"] || u["web-2>db-1"] {
		t.Errorf("web-2 down: links %v", u)
	}
	nodes["db-1"].set(engine.StateDown)
	if u := up(); u["web-1>db-1"] || u["web-2>db-1"] {
		t.Errorf("db-1 down: links %v", u)
	}
	nodes["db-1"].set(engine.StateSaturated)
	nodes["web-2"].set(engine.StateRestarting)
	if u := up(); !u["web-1>db-1"] || u["web-2>db-1"] {
		t.Errorf("db-1 saturated, web-2 restarting: links %v", u)
	}
	l, ok := sys.Link("web-1>db-1")
	if !ok {
		t.Fatal("Link(web-1>db-1) not found")
	}
	l.SetDown(true)
	if u := up(); u["web-1>db-1"] {
		t.Error("a link set down shows up")
	}
	l.SetDown(false)

	snap = sys.Snapshot()
	if len(snap.Knobs) != 1 || snap.Knobs[0].Value != "small" || len(snap.Knobs[0].Values) != len(engine.Sizes()) {
		t.Errorf("knobs %+v", snap.Knobs)
	}
	if g, ok := ctGauge(&snap, "hit ratio"); !ok || g.Value != 87.5 || g.Unit != "%" || g.Modelled {
		t.Errorf("gauge %+v %v", g, ok)
	}
	if g, ok := ctGauge(&snap, "cost"); !ok || !g.Modelled {
		t.Errorf("modelled gauge %+v %v", g, ok)
	}
	if snap.NEvent != 1 || len(snap.Events) != 1 || snap.Events[0].Detail != "hello 1" {
		t.Errorf("events %+v (%d)", snap.Events, snap.NEvent)
	}
	if snap.Series != nil || snap.Totals.Sent != 0 {
		t.Errorf("no load, yet series %v totals %+v", snap.Series, snap.Totals)
	}
	if _, ok := snap.Node("web-9"); ok {
		t.Error("snapshot has web-9")
	}
}

func TestSystemSnapshotKeepsNewestEvents(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	for i := 0; i < engine.EventsLen+50; i++ {
		sys.Events.Add(engine.EvInfo, "lab", "%d", i)
	}
	snap := sys.Snapshot()
	if len(snap.Events) != engine.EventsLen || snap.NEvent != engine.EventsLen+50 {
		t.Fatalf("%d events, NEvent %d", len(snap.Events), snap.NEvent)
	}
	if first, last := snap.Events[0].Detail, snap.Events[engine.EventsLen-1].Detail; first != "50" || last != fmt.Sprint(engine.EventsLen+49) {
		t.Fatalf("events %s..%s, want the newest, oldest first", first, last)
	}
}

func TestSystemSubscribe(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := sys.Clock.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	read := sys.Subscribe()
	unread := sys.Subscribe() // nobody reads this one until the end
	sys.Start()
	sys.Start() // idempotent

	// the reader keeps getting newer snapshots although the other
	// subscriber never reads: publishing does not block
	var last engine.Snapshot
	deadline := time.After(10 * time.Second)
	for last.T < time.Second {
		select {
		case s := <-read:
			if s.T < last.T {
				t.Fatalf("snapshot went back in time: %v after %v", s.T, last.T)
			}
			last = s
		case <-deadline:
			t.Fatalf("no snapshot past 1s of lab time; last %v", last.T)
		}
	}
	// pause publishes at once, and the clock (and the ticker) stop
	if err := sys.Apply(engine.Action{Kind: engine.ActPause}); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "a paused snapshot", 5*time.Second, func() bool {
		select {
		case s := <-read:
			return s.Paused
		default:
			return false
		}
	})
	// the unread channel holds one snapshot, a recent one, not the first
	select {
	case s := <-unread:
		if s.T < time.Second {
			t.Errorf("unread subscriber holds a snapshot from %v; want the newest (>= 1s)", s.T)
		}
	default:
		t.Fatal("unread subscriber has no snapshot")
	}

	// publishing to subscribers that never read returns at once
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			sys.Publish()
		}
	}()
	ctWaitClosed(t, "1000 publishes with full subscriber channels", done, 10*time.Second)
	if s, ok := <-unread; !ok || !s.Paused {
		t.Errorf("after publishing while paused the unread channel holds %+v", s)
	}
}

func TestSystemNodesNamesRemove(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	if got := sys.NextName("web"); got != "web-4" {
		t.Errorf("NextName(web) = %s", got)
	}
	if got := sys.NextName("cache"); got != "cache-1" {
		t.Errorf("NextName(cache) = %s", got)
	}
	if err := sys.RemoveNode("web-2"); err != nil {
		t.Fatal(err)
	}
	if nodes["web-2"].closed != 1 {
		t.Error("RemoveNode did not close the node")
	}
	if got := sys.NextName("web"); got != "web-2" {
		t.Errorf("NextName(web) after removing web-2 = %s", got)
	}
	if ctNames(sys.Nodes()) != "web-1,web-3,db-1" {
		t.Errorf("nodes %s", ctNames(sys.Nodes()))
	}
	if _, ok := sys.Node("web-2"); ok {
		t.Error("Node(web-2) after removal")
	}
	sys.AddLink("web-3", "db-1")
	if err := sys.RemoveNode("db-1"); err != nil {
		t.Fatal(err)
	}
	if links := sys.Snapshot().Links; len(links) != 0 {
		t.Errorf("links to a removed node remain: %+v", links)
	}
	if err := sys.RemoveNode("web-9"); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("RemoveNode(web-9) = %v", err)
	}
}

func TestSystemLifecycle(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	if !sys.Clock.Paused() {
		t.Error("a new system's clock runs before Start")
	}
	if len(sys.Token) != 16 {
		t.Errorf("token %q", sys.Token)
	}
	other, _ := engine.NewSystem(1)
	if other.Token == sys.Token || other.Dir == sys.Dir {
		t.Error("two systems share a token or a directory")
	}
	other.Close()
	if st, err := os.Stat(sys.Dir); err != nil || !st.IsDir() {
		t.Fatalf("lab dir: %v", err)
	}
	if err := os.WriteFile(sys.Dir+"/x.db", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var order []int
	var mu sync.Mutex
	for i := 1; i <= 3; i++ {
		sys.OnClose(func() error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, i)
			return nil
		})
	}
	errClose := errors.New("close failed")
	sys.OnClose(func() error { return errClose })
	stopped := make(chan struct{})
	sys.Go(func(ctx context.Context) {
		<-ctx.Done()
		close(stopped)
	})
	n := newCTNode("web-1", web.RoleWeb)
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	sys.Start()
	if sys.Clock.Paused() {
		t.Error("Start did not start the clock")
	}
	if err := sys.Close(); !errors.Is(err, errClose) {
		t.Errorf("Close = %v, want the closer's error joined", err)
	}
	if !ctDone(stopped) {
		t.Error("Close returned before a Go goroutine ended")
	}
	if sys.Context().Err() == nil {
		t.Error("system context alive after Close")
	}
	if len(order) != 3 || order[0] != 3 || order[2] != 1 {
		t.Errorf("closers ran in order %v, want last registered first", order)
	}
	if n.closed != 1 {
		t.Errorf("node closed %d times", n.closed)
	}
	if _, err := os.Stat(sys.Dir); !os.IsNotExist(err) {
		t.Errorf("lab dir after Close: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if n.closed != 1 {
		t.Errorf("second Close closed the node again")
	}
}

// ctGauge returns the snapshot's gauge of that name.
func ctGauge(snap *engine.Snapshot, name string) (engine.Gauge, bool) {
	for _, g := range snap.Gauges {
		if g.Name == name {
			return g, true
		}
	}
	return engine.Gauge{}, false
}
