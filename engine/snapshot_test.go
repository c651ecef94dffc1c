// Tests of a system's snapshots and their subscribers.

package engine_test

import (
	"fmt"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/sqldb"
	"testing"
	"time"
)

func TestSystemSnapshot(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	sys.AddLink("web-2", "db-1")
	sys.AddKnob(engine.NewKnob("web.size", engine.SizeNames(), "small", func(string) error { return nil }))
	sys.AddGauges(func() []engine.Gauge {
		return []engine.Gauge{{Name: "hit ratio", Value: 87.5, Unit: "%"}, {Name: "cost", Value: 0.1, Unit: "$/h", Modelled: true}}
	})
	sys.Events.Add(engine.EvInfo, "lab", engine.Textf("test.hello", "hello %d", 1))

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
		sys.Events.Add(engine.EvInfo, "lab", engine.Textf("test.n", "%d", i))
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

// ctGauge returns the snapshot's gauge of that name.
func ctGauge(snap *engine.Snapshot, name string) (engine.Gauge, bool) {
	for _, g := range snap.Gauges {
		if g.Name == name {
			return g, true
		}
	}
	return engine.Gauge{}, false
}

// An event's detail is one line, whatever the error text it carries.
func TestEventDetailIsOneLine(t *testing.T) {
	l := engine.NewEventLog(engine.NewClock())
	l.Add(engine.EvInfo, "db-1", engine.Textf("test.store_failed", "storing the log failed: %v", "disk I/O error\nretry\r\nlater"))
	if got := l.All()[0].Detail; got != "storing the log failed: disk I/O error retry later" {
		t.Errorf("detail %q", got)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 targets", 1: "1 target", 3: "3 targets"} {
		got := engine.Plural(n, "target")
		if got.String() != want || got.Key != "count.target" {
			t.Errorf("Plural(%d) = %q (key %s), want %q", n, got, got.Key, want)
		}
	}
}
