package lab

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/chapters"
	"scalelab/engine"
)

// replicatedSnapshot is chapter 4 after a failover and an added replica:
// db-2 was promoted, db-1 is down, db-4 was added, and a monitor sends
// heartbeats to every database.
func replicatedSnapshot() engine.Snapshot {
	s := engine.Snapshot{T: 30 * time.Second, Speed: 1, Rate: 300, BaseRate: 300}
	db := func(name, badge string, st engine.State) engine.NodeSnap {
		return engine.NodeSnap{Name: name, Role: "db", Layer: engine.LayerData, State: st, Badge: badge, RPS: 100}
	}
	s.Nodes = []engine.NodeSnap{
		{Name: "web-1", Role: "web", Layer: engine.LayerWeb, State: engine.StateUp, RPS: 150, Public: true},
		{Name: "web-2", Role: "web", Layer: engine.LayerWeb, State: engine.StateUp, RPS: 150, Public: true, Latency: 200 * time.Millisecond},
		db("db-1", "former primary", engine.StateDown),
		db("db-2", "primary", engine.StateUp),
		db("db-3", "replica", engine.StateUp),
		db("db-4", "replica", engine.StateUp),
		{Name: "monitor-1", Role: "monitor", Layer: engine.LayerData, State: engine.StateUp},
	}
	for _, w := range []string{"web-1", "web-2"} {
		for _, d := range []string{"db-1", "db-2", "db-3", "db-4"} {
			s.Links = append(s.Links, engine.LinkSnap{From: w, To: d, RPS: 20, Up: d != "db-1"})
		}
	}
	for _, d := range []string{"db-3", "db-4"} {
		s.Links = append(s.Links, engine.LinkSnap{From: d, To: "db-2", RPS: 15, Up: true, Latency: 50 * time.Millisecond})
	}
	for _, d := range []string{"db-1", "db-2", "db-3", "db-4"} {
		s.Links = append(s.Links, engine.LinkSnap{From: "monitor-1", To: d, RPS: 1, Up: d != "db-1"})
	}
	return s
}

// The diagram names the primary (after a failover, the promoted one),
// shows injected latency on the node, and does not list the monitor's
// heartbeat links, in the compact and the wide layout alike.
func TestTopologyShowsPrimaryLatencyNotMonitorLinks(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, replicatedSnapshot())
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		topo := ansi.Strip(m.topo.View())
		where := topo
		for _, want := range []string{"db-2 primary", "db-3 replica", "db-1 former primary", "+200ms"} {
			if !strings.Contains(topo, want) {
				t.Errorf("%dx%d: no %q in the diagram:\n%s", size[0], size[1], want, where)
			}
		}
		if strings.Contains(topo, "monitor-1 ⇢") {
			t.Errorf("%dx%d: the monitor's links are listed:\n%s", size[0], size[1], where)
		}
		// selected, a monitor link is listed: tab reaches it
		for i := 0; i < 40 && m.topo.sel != "monitor-1>db-3"; i++ {
			tab(m)
		}
		if m.topo.sel != "monitor-1>db-3" {
			t.Fatalf("%dx%d: tab never reached monitor-1>db-3", size[0], size[1])
		}
		if topo := ansi.Strip(m.topo.View()); !strings.Contains(topo, "monitor-1 ⇢ db-3") {
			t.Errorf("%dx%d: the selected monitor link is not shown:\n%s", size[0], size[1], topo)
		}
	}
}

// The links listed under the diagram add up: each one is listed, or the
// last row counts those that are not (at 80x24 chapter 4's three
// replication links after an added replica do not all fit).
func TestTopologyCountsUnlistedLinks(t *testing.T) {
	snap := replicatedSnapshot()
	snap.Links = append(snap.Links, engine.LinkSnap{From: "db-1", To: "db-2", RPS: 0, Up: false, Latency: 50 * time.Millisecond})
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, snap)
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		topo := ansi.Strip(m.topo.View())
		listed := strings.Count(topo, "⇢ db-2")
		more := 0
		if i := strings.Index(topo, "… "); i >= 0 {
			fmt.Sscanf(topo[i+len("… "):], "%d more", &more)
		}
		if listed+more != 3 {
			t.Errorf("%dx%d: %d replication links listed and %d counted as not, want 3 in all:\n%s", size[0], size[1], listed, more, topo)
		}
	}
}

// A replica added after the monitor stands with the databases: drawn above
// the monitor and reached by tab before it.
func TestAddedReplicaStandsWithTheDatabases(t *testing.T) {
	snap := replicatedSnapshot()
	n := snap.Nodes // web-1 web-2 db-1 db-2 db-3 db-4 monitor-1
	snap.Nodes = []engine.NodeSnap{n[0], n[1], n[2], n[3], n[4], n[6], n[5]}
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, snap)
	items := m.topo.items()
	at := func(name string) int {
		for i, it := range items {
			if it == name {
				return i
			}
		}
		t.Fatalf("%s not in the tab order %v", name, items)
		return -1
	}
	if at("db-4") > at("monitor-1") {
		t.Errorf("tab reaches monitor-1 before db-4: %v", items)
	}
	topo := ansi.Strip(m.topo.View())
	if strings.Index(topo, "db-4") > strings.Index(topo, "monitor-1") {
		t.Errorf("db-4 is drawn below monitor-1:\n%s", topo)
	}
}

// Figures on the nodes are labelled: with "/s" on each, or, where the
// compact layout leaves them bare, by "req/s" in the pane's title.
func TestNodeFiguresAreLabelled(t *testing.T) {
	bare := regexp.MustCompile(`[●✗▲◌↻] [a-z0-9-]+(?: [a-z ]+)? [0-9][0-9,.]*[\]«]`)
	seenBare := false
	for _, snap := range []engine.Snapshot{replicatedSnapshot(), fixtureSnapshot()} {
		for w := 36; w <= 90; w += 2 {
			for h := 5; h <= 14; h++ {
				p := newTopoPane(&common{styles: NewStyles(true), tr: testWords(t)})
				p.SetSize(w, h)
				p.Update(snapshotMsg{snap: snap})
				lines := strings.Split(ansi.Strip(p.View()), "\n")
				if bare.MatchString(strings.Join(lines[1:], "\n")) {
					seenBare = true
					if !strings.Contains(lines[0], "req/s") {
						t.Fatalf("%dx%d: bare figures and no unit in the title:\n%s", w, h, strings.Join(lines, "\n"))
					}
				}
			}
		}
	}
	if !seenBare {
		t.Error("no size drew bare figures: the check looked at nothing")
	}
}
