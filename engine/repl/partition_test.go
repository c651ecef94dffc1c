package repl

import (
	"errors"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"testing"
)

func TestPartitionGroupCutsOnlyLinksAcrossIt(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for _, name := range []string{"db-1", "db-2", "web-1", "web-2"} {
		if err := sys.AddNode(ctPartNode(sys, name)); err != nil {
			t.Fatal(err)
		}
	}
	inside := sys.AddLink("web-1", "db-1")
	across := sys.AddLink("db-2", "db-1")
	outside := sys.AddLink("web-2", "db-2")
	a, err := engine.ParseAction([]string{"partition", "db-1,web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Apply(a); err != nil {
		t.Fatal(err)
	}
	ctx := sys.Context()
	if err := inside.Delay(ctx); err != nil {
		t.Errorf("web-1>db-1 is inside the group and must work: %v", err)
	}
	if err := across.Delay(ctx); !errors.Is(err, engine.ErrPartitioned) {
		t.Errorf("db-2>db-1 crosses the partition: want ErrPartitioned, got %v", err)
	}
	if err := outside.Delay(ctx); err != nil {
		t.Errorf("web-2>db-2 is outside the group and must work: %v", err)
	}
	snap := sys.Snapshot()
	for _, l := range snap.Links {
		if want := l.ID() != "db-2>db-1"; l.Up != want {
			t.Errorf("link %s up=%v, want %v", l.ID(), l.Up, want)
		}
	}
	if n, _ := snap.Node("db-1"); !n.Partitioned {
		t.Errorf("db-1 should show as partitioned")
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActHeal, Target: "web-1"}); err != nil {
		t.Fatal(err)
	}
	if err := across.Delay(ctx); err != nil {
		t.Errorf("after heal db-2>db-1 must work: %v", err)
	}
	if err := sys.Check(engine.Action{Kind: engine.ActCut, Target: "db-1,web-9"}); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("a group with an unknown node must be rejected, got %v", err)
	}
}

func TestAliasResolvesToTheCurrentNode(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	a, b := ctPartNode(sys, "db-1"), ctPartNode(sys, "db-2")
	for _, n := range []engine.Node{a, b} {
		if err := sys.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	cur := engine.Node(a)
	sys.Alias("primary", func() []engine.Node { return []engine.Node{cur} })
	got, err := sys.Resolve("@primary")
	if err != nil || got[0].Name() != "db-1" {
		t.Fatalf("@primary = %v, %v", got, err)
	}
	cur = b
	if got, _ := sys.Resolve("@primary"); got[0].Name() != "db-2" {
		t.Errorf("@primary after the change = %s, want db-2", got[0].Name())
	}
}

func ctPartNode(sys *engine.System, name string) *engine.Server {
	return engine.NewServer(engine.ServerConfig{Name: name, Role: sqldb.RoleDB}, sys.Clock, sys.Events, nil)
}
