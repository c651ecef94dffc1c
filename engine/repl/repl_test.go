package repl

import (
	"context"
	"scalelab/engine"
	"scalelab/engine/web"
	"strings"
	"testing"
	"time"
)

// replRig is a cluster with one web server writing and reading through a
// router, with the given config tweaks.
func replRig(t *testing.T, rate float64, tune func(*ClusterConfig)) (*engine.System, *Cluster) {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	cfg := DefaultClusterConfig()
	if tune != nil {
		tune(&cfg)
	}
	cl, err := NewCluster(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := NewRouter(sys, cl, "web-1")
	web, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "xlarge", Store: func() engine.Store { return rt }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(web); err != nil {
		t.Fatal(err)
	}
	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Mix, lc.Entry = rate, engine.Mix{engine.OpWrite: 60, engine.OpRead: 40}, web.URL
	l, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		t.Fatal(err)
	}
	sys.SetLoad(l)
	sys.Start()
	return sys, cl
}

// labUntil waits on the lab clock until cond holds or limit passes.
func labUntil(t *testing.T, sys *engine.System, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := sys.Clock.Now() + limit
	for !cond() {
		if sys.Clock.Now() > deadline {
			t.Fatalf("%s: not within %s; events %v", what, limit, sys.Events.All())
		}
		_ = sys.Clock.Sleep(context.Background(), 20*time.Millisecond)
	}
}

func postCount(t *testing.T, d *ReplDB) int64 {
	t.Helper()
	var n int64
	if err := d.Data.DB().QueryRow("SELECT count(*) FROM posts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// settle stops the writes and waits until every replica has applied
// everything the primary has.
func settle(t *testing.T, sys *engine.System, cl *Cluster) {
	t.Helper()
	sys.Load.SetRate(0)
	labUntil(t, sys, "replicas caught up", 10*time.Second, func() bool {
		top, _ := cl.Primary().Positions()
		for _, d := range cl.Replicas() {
			if d.State() != engine.StateUp {
				continue
			}
			if _, applied := d.Positions(); applied != top {
				return false
			}
		}
		return true
	})
}

func TestAddReplicaIsSeededFromACopyAndStreams(t *testing.T) {
	sys, cl := replRig(t, 200, nil)
	labUntil(t, sys, "writes", 5*time.Second, func() bool { top, _ := cl.Primary().Positions(); return top > 100 })
	if err := sys.Apply(engine.Action{Kind: engine.ActAdd, Target: "db"}); err != nil {
		t.Fatal(err)
	}
	var seeded engine.Event
	for _, e := range sys.Events.All() {
		if e.Kind == EvSeed && e.Node == "db-4" {
			seeded = e
		}
	}
	if seeded.Node == "" || !strings.Contains(seeded.Detail, "copy of db-1") {
		t.Fatalf("no seed event for db-4: %v", sys.Events.All())
	}
	d4, ok := sys.Node("db-4")
	if !ok {
		t.Fatal("db-4 is not in the topology")
	}
	rep := d4.(*ReplDB)
	if pos, _ := rep.Positions(); pos < 100 {
		t.Errorf("the copy should hold the primary's log: db-4 at pos %d", pos)
	}
	// it keeps streaming after the copy
	labUntil(t, sys, "db-4 streams", 5*time.Second, func() bool {
		top, _ := cl.Primary().Positions()
		pos, _ := rep.Positions()
		return pos > 0 && top > pos-1 && cl.CaughtUp("db-4") && pos > 150
	})
	settle(t, sys, cl)
	if a, b := postCount(t, rep), postCount(t, cl.Primary()); a != b {
		t.Errorf("db-4 has %d posts, the primary %d", a, b)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActAdd, Target: "web"}); err == nil {
		t.Errorf("adding a web server is not this topology's to do")
	}
}

func TestFarBehindReplicaIsReseededWhileItBoots(t *testing.T) {
	sys, cl := replRig(t, 300, func(c *ClusterConfig) { c.ReseedAfter = 50 })
	labUntil(t, sys, "writes", 5*time.Second, func() bool { top, _ := cl.Primary().Positions(); return top > 20 })
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "db-2"}); err != nil {
		t.Fatal(err)
	}
	d2, _ := sys.Node("db-2")
	before, _ := d2.(*ReplDB).Positions()
	labUntil(t, sys, "the gap grows", 10*time.Second, func() bool { top, _ := cl.Primary().Positions(); return top-before > 200 })
	if err := sys.Apply(engine.Action{Kind: engine.ActRestart, Target: "db-2"}); err != nil {
		t.Fatal(err)
	}
	labUntil(t, sys, "re-seeded", 10*time.Second, func() bool {
		for _, e := range sys.Events.All() {
			if e.Kind == EvSeed && e.Node == "db-2" {
				return true
			}
		}
		return false
	})
	labUntil(t, sys, "db-2 up", 5*time.Second, func() bool { return d2.State() == engine.StateUp })
	settle(t, sys, cl)
	if a, b := postCount(t, d2.(*ReplDB)), postCount(t, cl.Primary()); a != b {
		t.Errorf("after re-seeding db-2 has %d posts, the primary %d", a, b)
	}
	// a replica only a little behind streams instead
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "db-3"}); err != nil {
		t.Fatal(err)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActRestart, Target: "db-3"}); err != nil {
		t.Fatal(err)
	}
	d3, _ := sys.Node("db-3")
	labUntil(t, sys, "db-3 up", 5*time.Second, func() bool { return d3.State() == engine.StateUp })
	for _, e := range sys.Events.All() {
		if e.Kind == EvSeed && e.Node == "db-3" {
			t.Errorf("db-3 was barely behind and should have streamed: %v", e)
		}
	}
}

func TestReplicaSlowerThanTheWritesFallsBehindForGood(t *testing.T) {
	sys, cl := replRig(t, 300, nil) // about 180 writes/s
	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "repl.apply", Str: "15ms"}); err != nil {
		t.Fatal(err) // a replica now applies at most ~66 writes/s
	}
	lagAt := func(when time.Duration) int64 {
		labUntil(t, sys, "time passes", when+5*time.Second, func() bool { return sys.Clock.Now() >= when })
		var worst int64
		for _, n := range cl.State().Nodes {
			if n.Role == "replica" && n.LagPos > worst {
				worst = n.LagPos
			}
		}
		return worst
	}
	first, second := lagAt(2*time.Second), lagAt(4*time.Second)
	if second < first+100 {
		t.Errorf("lag should keep growing when applying is slower than writing: %d then %d positions", first, second)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "repl.apply", Str: "nonsense"}); err == nil {
		t.Errorf("a bad apply cost must be refused")
	}
}

// A web server whose reads keep to its own data center reads only the
// replica there, and the primary when that replica is down or when its data
// center has none: never a replica across the ocean.
func TestRouterLocalReads(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	cfg := DefaultClusterConfig()
	cl, err := NewCluster(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sys.Start()
	ctx := context.Background()
	served := func(name string) int64 {
		for _, d := range cl.Nodes() {
			if d.Name() == name {
				return d.Snap().Requests
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	reads := func(rt *Router, n int) {
		t.Helper()
		for i := range n {
			if _, err := rt.Do(ctx, engine.OpRead, i+1, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	eu := NewRouter(sys, cl, "web-eu-1")
	eu.SetLocal("db-3")
	b2, b3 := served("db-2"), served("db-3")
	reads(eu, 40)
	if g2, g3 := served("db-2")-b2, served("db-3")-b3; g3 < 40 || g2 >= 10 || eu.Stats().PrimaryReads != 0 {
		t.Errorf("40 reads kept to db-3: db-3 served %d, db-2 %d, primary %d", g3, g2, eu.Stats().PrimaryReads)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "db-3"}); err != nil {
		t.Fatal(err)
	}
	b2 = served("db-2")
	reads(eu, 20)
	if g2, p := served("db-2")-b2, eu.Stats().PrimaryReads; p != 20 || g2 >= 10 {
		t.Errorf("db-3 down: want the 20 reads on the primary, got %d (db-2 served %d)", p, g2)
	}
	// a data center with no replica of its own reads the primary
	us := NewRouter(sys, cl, "web-us-1")
	us.SetLocal("db-1")
	reads(us, 20)
	if p := us.Stats().PrimaryReads; p != 20 {
		t.Errorf("no local replica: %d of 20 reads on the primary", p)
	}
}
