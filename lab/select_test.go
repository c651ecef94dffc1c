package lab

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/chapters/catalog"
	"scalelab/engine"
)

// openStep shows step stepIdx of chapter chIdx of all with a fake session
// and snap as its first snapshot.
func openStep(t *testing.T, all []*chapters.Chapter, chIdx, stepIdx int, snap engine.Snapshot) (*model, *fakeSession) {
	t.Helper()
	m := newModel(config{
		all: all, start: chIdx, step: stepIdx, lang: "en", noColor: true,
		tr: testWords(t), factLabel: func(k string) string { return k },
		loadLesson: func(string) (*assets.Lesson, error) { return fixtureLesson(), nil },
		runner:     newRunner(func(*chapters.Chapter, int) (*chapters.Session, error) { return nil, errNoSystem }),
	})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	_ = m.Init()
	fs := feedSession(m, snap)
	return m, fs
}

// feedSession stands a fake session in for the step being opened.
func feedSession(m *model, snap engine.Snapshot) *fakeSession {
	fs := &fakeSession{met: map[string]bool{}}
	id := m.want
	ls := &liveSession{id: id, sess: fs, done: make(chan struct{})}
	m.run.live[id] = ls
	m.Update(openedMsg{id: id, ls: ls})
	m.Update(snapshotMsg{id: id, snap: snap})
	return fs
}

func tab(m *model)      { m.Update(tea.KeyPressMsg{Code: tea.KeyTab}) }
func shiftTab(m *model) { m.Update(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}) }

// Tab follows the diagram: tier by tier left to right, top to bottom in a
// tier, whatever order the snapshot lists the nodes in; links come after.
func TestTabFollowsTheDiagram(t *testing.T) {
	snap := fixtureSnapshot()
	// the snapshot lists the database first and the entry in the middle
	n := snap.Nodes
	snap.Nodes = []engine.NodeSnap{n[4], n[1], n[0], n[2], n[3]}
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, snap)
	var got []string
	for range 7 {
		tab(m)
		got = append(got, m.topo.sel)
	}
	want := []string{"lb-1", "web-1", "web-2", "web-3", "db-1", "lb-1>web-1", "lb-1>web-2"}
	if !slices.Equal(got, want) {
		t.Errorf("tab visits %v, want %v", got, want)
	}
	// and the diagram draws them in that order: lb-1 left of the web
	// tier, web-1 above web-2 above web-3, db-1 right of them
	lines := strings.Split(ansi.Strip(m.topo.View()), "\n")
	where := func(name string) (x, y int) {
		for y, l := range lines[1:] { // below the title
			if i := strings.Index(l, name+" "); i >= 0 {
				return len([]rune(l[:i])), y
			}
		}
		t.Fatalf("%s not drawn:\n%s", name, strings.Join(lines, "\n"))
		return 0, 0
	}
	lx, _ := where("lb-1")
	w1x, w1y := where("web-1")
	_, w2y := where("web-2")
	_, w3y := where("web-3")
	dx, _ := where("db-1")
	if !(lx < w1x && w1x < dx && w1y < w2y && w2y < w3y) {
		t.Errorf("diagram order differs: lb-1 x%d, web-1 x%d y%d, web-2 y%d, web-3 y%d, db-1 x%d", lx, w1x, w1y, w2y, w3y, dx)
	}
	shiftTab(m)
	if m.topo.sel != "lb-1>web-1" {
		t.Errorf("shift+tab went to %q, want lb-1>web-1", m.topo.sel)
	}
}

// A step that names a node starts with it selected: x acts on it at once,
// and "tab, x" as the lesson says still does (the first tab keeps it). Once
// the selection is used, tab moves on: "x, then tab to the next, x" kills
// both. Leaving the step and coming back selects it again.
func TestStepPreselectsItsNode(t *testing.T) {
	ch := fixtureChapter()
	ch.Steps[0].Select = "web-3"
	ch.Steps[1].Select = "web-2"
	m, fs := openStep(t, []*chapters.Chapter{ch}, 0, 0, fixtureSnapshot())
	if n, _ := m.topo.selected(); n == nil || n.Name != "web-3" {
		t.Fatalf("selected %v at start, want web-3", m.topo.sel)
	}
	if !strings.Contains(screen(m), "nodes · web-3") {
		t.Errorf("the diagram's title does not name web-3:\n%s", screen(m))
	}
	tab(m)               // the first tab keeps web-3
	m.Update(press("r")) // web-3 is down in the fixture: r restarts it
	tab(m)               // the selection was used: tab moves on
	m.Update(press("x"))
	var got []string
	for _, a := range fs.applied {
		got = append(got, a.String())
	}
	want := []string{"restart web-3", "kill db-1"}
	if !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	run(m, m.next())
	feedSession(m, fixtureSnapshot())
	m.Update(press("x")) // no tab first: x acts on web-2 at once
	tab(m)               // and the next tab moves on, to web-3
	if m.topo.sel != "web-3" {
		t.Errorf("x on the step's node, then tab: %q selected, want web-3", m.topo.sel)
	}
	run(m, m.back())
	run(m, m.next())
	feedSession(m, fixtureSnapshot())
	if m.topo.sel != "web-2" {
		t.Errorf("step 2 starts with %q selected, want web-2", m.topo.sel)
	}
	run(m, m.back())
	feedSession(m, fixtureSnapshot())
	if m.topo.sel != "web-3" {
		t.Errorf("step 1 again starts with %q selected, want web-3", m.topo.sel)
	}
}

// Every catalog step that names a node starts with it selected in the
// lab, on the snapshot of its real, built topology: "tab, x" kills it.
func TestCatalogStepsPreselect(t *testing.T) {
	all := catalog.All()
	n := 0
	for ci, ch := range all {
		for si, st := range ch.Steps {
			if st.Select == "" {
				continue
			}
			n++
			s, err := chapters.Build(ch, si, chapters.Options{})
			if err != nil {
				t.Fatalf("%s/%s: %v", ch.ID, st.ID, err)
			}
			snap := s.Sys.Snapshot()
			if err := s.Close(); err != nil {
				t.Errorf("%s/%s: close: %v", ch.ID, st.ID, err)
			}
			m, fs := openStep(t, all, ci, si, snap)
			tab(m)
			m.Update(press("x"))
			if len(fs.applied) != 1 || fs.applied[0].String() != "kill "+st.Select {
				t.Errorf("%s/%s: tab, x sent %v, want kill %s", ch.ID, st.ID, fs.applied, st.Select)
			}
		}
	}
	if n == 0 {
		t.Fatal("no catalog step selects a node")
	}
}

func teaSizeMsg(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
