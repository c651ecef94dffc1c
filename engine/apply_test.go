// Tests of checking and applying actions on a system.

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/web"
	"strings"
	"testing"
	"time"
)

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
	// a random target's event names the node it picked
	if err := sys.Apply(engine.Action{Kind: engine.ActLatency, Target: "@random-web", Dur: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ctEvent(sys, engine.EvLatency, "@random-web"); ok {
		t.Error("the latency event names @random-web, not the node it picked")
	}
	picked := 0
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		if e, ok := ctEvent(sys, engine.EvLatency, n); ok && e.Detail == "+50ms" {
			picked++
		}
	}
	if picked != 1 {
		t.Errorf("want one latency event of +50ms on the web server picked, got %d", picked)
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

// A handler's check refuses what the handler would not take, in Check (so
// a script is refused before it runs) and in Apply (the handler never
// sees it); remove and drain checks get the nodes the target resolves to.
func TestSystemHandleChecked(t *testing.T) {
	sys, _ := ctTopology(t, 1)
	var did []engine.Action
	var saw []string
	webOnly := func(a engine.Action, nodes []engine.Node) error {
		saw = append(saw, ctNames(nodes))
		if a.Kind == engine.ActAdd && a.Target != "web" {
			return fmt.Errorf("add %s: %w", a.Target, engine.ErrNotSupported)
		}
		for _, n := range nodes {
			if n.Role() != web.RoleWeb {
				return fmt.Errorf("%s %s: %w", a.Kind, n.Name(), engine.ErrNotSupported)
			}
		}
		return nil
	}
	for _, k := range []engine.Kind{engine.ActAdd, engine.ActRemove} {
		sys.HandleChecked(k, webOnly, func(a engine.Action) error { did = append(did, a); return nil })
	}
	for _, c := range []struct {
		a     engine.Action
		want  error
		nodes string
	}{
		{engine.Action{Kind: engine.ActAdd, Target: "web"}, nil, ""},
		{engine.Action{Kind: engine.ActAdd, Target: "db"}, engine.ErrNotSupported, ""},
		{engine.Action{Kind: engine.ActRemove, Target: "web-2"}, nil, "web-2"},
		{engine.Action{Kind: engine.ActRemove, Target: "db-1"}, engine.ErrNotSupported, "db-1"},
		{engine.Action{Kind: engine.ActRemove, Target: "@web"}, nil, "web-1,web-2,web-3"},
	} {
		saw = nil
		if err := sys.Check(c.a); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("Check(%v) = %v, want %v", c.a, err, c.want)
		}
		if len(saw) != 1 || saw[0] != c.nodes {
			t.Errorf("Check(%v): the check saw nodes %q, want once %q", c.a, saw, c.nodes)
		}
		did = nil
		err := sys.Apply(c.a)
		if c.want != nil && (!errors.Is(err, c.want) || len(did) != 0) {
			t.Errorf("Apply(%v) = %v and the handler ran %d times; want refused before it", c.a, err, len(did))
		}
		if c.want == nil && (err != nil || len(did) != 1) {
			t.Errorf("Apply(%v) = %v, handler ran %d times", c.a, err, len(did))
		}
	}
	// a missing node is unknown before the check is asked
	saw = nil
	if err := sys.Check(engine.Action{Kind: engine.ActRemove, Target: "web-9"}); !errors.Is(err, engine.ErrUnknownTarget) || saw != nil {
		t.Errorf("remove web-9: %v (check saw %q), want ErrUnknownTarget", err, saw)
	}
}
