// Tests of resolving action targets: names, roles and aliases.

package engine_test

import (
	"errors"
	"scalelab/engine"
	"strings"
	"testing"
)

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

// A group alias (@dc:eu) resolves to its nodes; a group that is not there
// is refused naming the groups there are.
func TestSystemResolveGroup(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	if _, err := sys.Resolve("@dc:eu"); !errors.Is(err, engine.ErrUnknownTarget) || !strings.Contains(err.Error(), "no dc groups") {
		t.Errorf("@dc:eu with no groups: %v", err)
	}
	sys.Alias("dc:eu", func() []engine.Node { return []engine.Node{nodes["web-2"], nodes["web-3"]} })
	sys.Alias("dc:us", func() []engine.Node { return []engine.Node{nodes["web-1"]} })
	if got, err := sys.Resolve("@dc:eu"); err != nil || len(got) != 2 {
		t.Errorf("@dc:eu = %v, %v", ctNames(got), err)
	}
	if _, err := sys.Resolve("@dc:xx"); !errors.Is(err, engine.ErrUnknownTarget) || !strings.Contains(err.Error(), "have @dc:eu, @dc:us") {
		t.Errorf("@dc:xx: %v, want the groups there are named", err)
	}
	if _, err := engine.ParseScript("chaos", "1s kill @dc:eu\n"); err != nil {
		t.Errorf("a group target in a script: %v", err)
	}
}
