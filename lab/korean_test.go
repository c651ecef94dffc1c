package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/chapters/catalog"
	"scalelab/engine"
)

// misses records the labels a language has no text for, with where the
// lab asked for them.
type misses map[string][]string

func (ms misses) add(key, where string) {
	if !slices.Contains(ms[key], where) {
		ms[key] = append(ms[key], where)
	}
}

func (ms misses) String() string {
	keys := make([]string, 0, len(ms))
	for k := range ms {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s (%s)", k, strings.Join(ms[k], ", "))
	}
	return b.String()
}

// recordingFactLabel labels facts in lang, recording in ms, with where (as
// *where says at the time), every key lang has no label of its own for.
func recordingFactLabel(lang string, ms misses, where *string) func(string) string {
	return func(k string) string {
		if l := assets.FactLabel(lang, k); l != assets.FactLabel("en", k) {
			return l
		}
		ms.add("fact "+k, *where)
		return assets.FactLabel(lang, k)
	}
}

// TestKoreanLabels drives every step of every chapter in Korean: it
// starts the step, plays its solution's actions at once, cycles every knob
// through its values, and draws each snapshot (with the inspector on every
// node) until a few seconds of lab time have passed; then it draws the
// chapter's debrief with the facts the steps reported. Any gauge, unit,
// knob, value, role, event or fact label the lab asked for with no Korean
// text fails the test: the screen would have shown it in English.
func TestKoreanLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every step of every chapter")
	}
	ms := misses{}
	where := ""
	ui := assets.UI("ko")
	all := catalog.All()
	m := newModel(config{
		all: all, lang: "ko", noColor: true, tr: ui.T, factLabel: recordingFactLabel("ko", ms, &where),
		loadLesson: func(id string) (*assets.Lesson, error) { return assets.LoadLesson("ko", id) },
		runner:     newRunner(func(*chapters.Chapter, int) (*chapters.Session, error) { return nil, errNoSystem }),
	})
	// the lab tells of every word it asks for that Korean lacks
	m.c.missed, m.c.has = func(k string) { ms.add(k, where) }, ui.Has
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	for ci, ch := range all {
		for si := range ch.Steps {
			where = fmt.Sprintf("%s step %d", ch.ID, si+1)
			_ = m.gotoStep(ci, si) // the lab's open command is not run: the step is opened here
			start := time.Now()
			driveStep(t, m, ch, si)
			t.Logf("%s: %v", where, time.Since(start).Round(time.Millisecond))
		}
		where = ch.ID + " debrief"
		_ = m.showDebrief()
		m.debrief.SetSize(160, 1000) // every fact on screen
		_ = screen(m)
		m.debrief.View()
	}
	if len(ms) > 0 {
		t.Errorf("Korean screens fell back to the English or raw name for:%s", ms)
	}
}

// driveStep opens step si of ch at the lab clock's top speed as the lab's
// running step, plays it and draws it.
func driveStep(t *testing.T, m *model, ch *chapters.Chapter, si int) {
	t.Helper()
	// a light load at the top speed: the labels need traffic, not much
	s, err := chapters.Open(ch, si, chapters.Options{Speed: 4, Rate: 20})
	if err != nil {
		t.Fatalf("%s step %d: %v", ch.ID, si+1, err)
	}
	defer func() { _ = s.Close() }()
	ls := &liveSession{id: m.want, sess: s, done: make(chan struct{})}
	m.Update(openedMsg{id: m.want, ls: ls})
	snaps := s.Sys.Subscribe()
	// the screen, and the panes that name things tall enough for all of
	// them: every gauge, knob and event of the snapshot
	draw := func(snap engine.Snapshot) {
		m.Update(snapshotMsg{id: ls.id, snap: snap})
		_ = screen(m)
		for _, p := range []pane{m.stats, m.events} {
			p.SetSize(120, 200)
			_ = p.View()
		}
	}
	defer func() { // the inspector on every node, once
		m.inspector.SetSize(120, 60)
		for _, n := range m.snap.Nodes {
			m.topo.sel = n.Name
			_ = m.inspector.View()
		}
	}()
	script, err := ch.Steps[si].Solution.Lines()
	if err != nil {
		t.Fatalf("%s step %d solution: %v", ch.ID, si+1, err)
	}
	for _, a := range script {
		_ = s.Apply(a.Action) // some fail out of their time (e.g. restart before kill): still drawn
	}
	// every value of every knob, each in a snapshot of its own
	for _, k := range s.Sys.Snapshot().Knobs {
		for _, v := range k.Values {
			_ = s.Apply(engine.Action{Kind: engine.ActSet, Key: k.Name, Str: v})
			draw(s.Sys.Snapshot())
		}
	}
	// then the step runs two lab seconds: gauges that need traffic appear
	// (the events' words are checked from the source, by assets'
	// TestEngineText)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case snap := <-snaps:
			draw(snap)
			if snap.T >= 2*time.Second {
				return
			}
		case <-deadline:
			t.Fatalf("%s step %d: 2 s of lab time did not pass in 30 s", ch.ID, si+1)
		}
	}
}

// TestHeaderKeepsModelled draws the header of a long Korean title at 80
// and 120 columns: the title gives way, and the lab time, pause state,
// rate and modelled tag stay.
func TestHeaderKeepsModelled(t *testing.T) {
	ui := assets.UI("ko")
	c := &common{styles: NewStyles(true), tr: ui.T}
	snap := fixtureSnapshot()
	snap.Paused = true
	for _, w := range []int{80, 120} {
		p := &headerPane{c: c, chapter: "4/11 데이터베이스 다중화", step: "5/5 갈라진 두 주 데이터베이스와 옛 주 데이터베이스의 복귀"}
		p.SetSize(w, 1)
		p.Update(snapshotMsg{snap: snap})
		got := p.View()
		for _, want := range []string{"⏱ 2:05.5", "‖ " + ui.T("paused"), "200 " + ui.T("rps"), "~ " + ui.T("modelled"), "4/11"} {
			if !strings.Contains(got, want) {
				t.Errorf("%d columns: no %q in %q", w, want, got)
			}
		}
		if !strings.Contains(got, "…") {
			t.Errorf("%d columns: the title was not shortened: %q", w, got)
		}
		if ansi.StringWidth(got) != w {
			t.Errorf("%d columns: header is %d wide", w, ansi.StringWidth(got))
		}
	}
}
