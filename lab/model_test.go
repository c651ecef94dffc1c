package lab

import (
	"github.com/charmbracelet/x/ansi"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// run feeds a command's messages back into the model (one level deep),
// the way the program would.
func run(m *model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			if c != nil {
				if inner := c(); inner != nil {
					m.Update(inner)
				}
			}
		}
	case nil:
	default:
		m.Update(msg)
	}
}

func TestNumberPrediction(t *testing.T) {
	m, fs := fixtureModel(t, 100, 30)
	run(m, m.next()) // step 2 asks for a number
	id := m.want
	fs2 := &fakeSession{measured: 33.3, hasMeas: true}
	m.Update(openedMsg{id: id, ls: &liveSession{id: id, sess: fs2, done: make(chan struct{})}})
	m.Update(snapshotMsg{id: id, snap: fixtureSnapshot()})
	if !fs.closed {
		t.Error("the first step's session was not closed")
	}
	if _, number := m.lessonP.open(); !number || !m.c.keys.Digit.Enabled() {
		t.Fatal("no number prediction open")
	}
	for _, k := range []string{"4", "2", "backspace", "5", ".", "5"} {
		m.Update(press(k))
	}
	if m.lessonP.input != "45.5" {
		t.Fatalf("input %q", m.lessonP.input)
	}
	_, cmd := m.Update(press("enter"))
	run(m, cmd)
	if got := m.prog.Chapter("demo").Predictions["share"]; got != 45.5 {
		t.Errorf("saved prediction %v, want 45.5", got)
	}
	if out := screen(m); !strings.Contains(out, "you said 45.5% · measured 33.3%") {
		t.Errorf("no verdict on screen:\n%s", out)
	}
	if m.c.keys.Digit.Enabled() {
		t.Error("digits still enabled after answering")
	}
}

func TestChoiceAndHint(t *testing.T) {
	m, _ := fixtureModel(t, 100, 30)
	m.prog.Chapter("demo").Predictions = map[string]float64{}
	run(m, m.gotoStep(0, 0)) // reopen without a saved answer
	id := m.want
	m.Update(openedMsg{id: id, ls: &liveSession{id: id, sess: &fakeSession{measured: 20, hasMeas: true}, done: make(chan struct{})}})
	m.Update(snapshotMsg{id: id, snap: fixtureSnapshot()})
	m.Update(press("7")) // out of range: ignored
	if m.lessonP.answered {
		t.Fatal("7 answered a 3-choice question")
	}
	_, cmd := m.Update(press("2"))
	run(m, cmd)
	if m.prog.Chapter("demo").Predictions["best-policy"] != 1 { // index of choice 2
		t.Errorf("predictions %v", m.prog.Chapter("demo").Predictions)
	}
	out := screen(m)
	flat := strings.Join(strings.Fields(ansi.Strip(m.lessonP.View())), " ")
	if !strings.Contains(flat, "you said 2 Least connections · measured 20 ms ✓ right") {
		t.Errorf("no verdict:\n%s", out)
	}
	m.Update(press("h"))
	if out := screen(m); !strings.Contains(out, "│ Give each policy at least 15 s") || strings.Contains(out, "› solution") {
		t.Errorf("hint not shown, or the solution with it:\n%s", out)
	}
	// h again: the solution too, each action with its lab time and key
	m.Update(press("h"))
	out = screen(m)
	for _, want := range []string{"› solution", "16s  set lb.policy least-conn  [p]", "20s  drain web-1  [d]", "33s  …"} {
		if !strings.Contains(out, want) {
			t.Errorf("solution line %q not shown:\n%s", want, out)
		}
	}
	// and again: neither
	m.Update(press("h"))
	if out := screen(m); strings.Contains(out, "Give each policy at least 15 s") || strings.Contains(out, "› solution") {
		t.Errorf("a third h should hide the hint and the solution:\n%s", out)
	}
}

func TestStaleSnapshotIgnored(t *testing.T) {
	m, _ := fixtureModel(t, 100, 30)
	old := m.cur.id
	run(m, m.next())
	s := fixtureSnapshot()
	s.T = 999e9
	m.Update(snapshotMsg{id: old, snap: s})
	if m.hasSnap || m.header.snap != nil {
		t.Error("a snapshot from the closed session was drawn")
	}
	// an open that finishes after the learner moved on is closed at once
	late := &fakeSession{}
	ls := &liveSession{id: old + 100, sess: late, done: make(chan struct{})}
	m.run.live[ls.id] = ls // as openCmd registers it
	_, cmd := m.Update(openedMsg{id: ls.id, ls: ls})
	if cmd == nil {
		t.Fatal("no close for a late session")
	}
	cmd()
	if !late.closed || len(m.run.live) != 0 {
		t.Errorf("late session closed %v, live %v", late.closed, m.run.live)
	}
}

func TestOpenErrorShown(t *testing.T) {
	words := testWords(t)
	boom := chapters.Chapter{ID: "boom", Number: 1, Steps: []chapters.Step{chapters.StepOf[*engine.System]{ID: "s", Build: func(*engine.System, chapters.Options) (*engine.System, error) {
		return nil, errNoSystem
	}}.Step()}}
	m := newModel(config{all: []*chapters.Chapter{&boom}, lang: "en", noColor: true, tr: words,
		factLabel: func(k string) string { return k }, loadLesson: func(string) (*assets.Lesson, error) { return fixtureLesson(), nil }})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	run(m, m.Init())
	if m.opening {
		t.Fatal("still opening")
	}
	out := screen(m)
	if !strings.Contains(out, "could not start this step: boom step 1") {
		t.Errorf("open error not on screen:\n%s", out)
	}
}

func TestTopologyLayouts(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {100, 30}, {120, 36}, {160, 48}, {200, 60}} {
		m, _ := fixtureModel(t, size[0], size[1])
		out := screen(m)
		checkSize(t, out, size[0], size[1])
		for _, n := range []string{"lb-1", "web-1", "web-2", "web-3", "db-1"} {
			if !strings.Contains(out, n) {
				t.Errorf("%dx%d: node %s not drawn", size[0], size[1], n)
			}
		}
	}
}
