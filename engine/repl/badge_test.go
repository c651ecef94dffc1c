package repl

import (
	"testing"
	"time"

	"scalelab/engine"
)

// The snapshot's badges name the primary, before and after a failover, so
// the diagram can show which database takes the writes.
func TestBadgesFollowTheFailover(t *testing.T) {
	sys, cl := replRig(t, 100, nil)
	badges := func() map[string]string {
		out := map[string]string{}
		for _, n := range sys.Snapshot().Nodes {
			if n.Role == "db" {
				out[n.Name] = n.Badge
			}
		}
		return out
	}
	if b := badges(); b["db-1"] != "primary" || b["db-2"] != "replica" || b["db-3"] != "replica" {
		t.Fatalf("badges before the failover %v", b)
	}
	if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "db-1"}); err != nil {
		t.Fatal(err)
	}
	labUntil(t, sys, "the promotion", 10*time.Second, func() bool { return cl.Primary().Name() != "db-1" })
	p := cl.Primary().Name()
	b := badges()
	if b[p] != "primary" || b["db-1"] == "primary" {
		t.Errorf("after %s was promoted, badges %v", p, b)
	}
	for _, n := range []string{"db-2", "db-3"} {
		if n != p && b[n] != "replica" {
			t.Errorf("after %s was promoted, %s's badge is %q", p, n, b[n])
		}
	}
}
