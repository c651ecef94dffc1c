package lab

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/chapters/catalog"
	"scalelab/engine"
)

// Golden screens are regenerated with `go test ./lab -update`.

func checkSize(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d wide, more than %d: %q", i+1, lw, w, l)
		}
	}
}

func TestScreen80x24(t *testing.T) {
	m, _ := fixtureModel(t, 80, 24)
	out := screen(m)
	checkSize(t, out, 80, 24)
	for _, want := range []string{"scalelab", "3/3 The load balancer", "lb-1", "web-3", "throughput", "✓ Run round robin", "you said"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	golden.RequireEqual(t, out)
}

func TestScreen160x48(t *testing.T) {
	m, _ := fixtureModel(t, 160, 48)
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	m.Update(tea.KeyPressMsg{Code: 'i', Text: "i"})
	out := screen(m)
	checkSize(t, out, 160, 48)
	for _, want := range []string{"inspector · web-1", "(modelled)", "least connections", "round robin", "detail of event 49"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	golden.RequireEqual(t, out)
}

func TestScreen200x60(t *testing.T) {
	m, _ := fixtureModel(t, 200, 60)
	out := screen(m)
	checkSize(t, out, 200, 60)
	golden.RequireEqual(t, out)
}

func TestScreenTooSmall(t *testing.T) {
	m, _ := fixtureModel(t, 60, 20)
	out := screen(m)
	if !strings.Contains(out, "terminal too small: need 80x24, have 60x20") {
		t.Errorf("no too-small message:\n%s", out)
	}
	golden.RequireEqual(t, out)
}

func TestScreenHelp(t *testing.T) {
	m, _ := fixtureModel(t, 100, 30)
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	out := screen(m)
	checkSize(t, out, 100, 30)
	for _, want := range []string{"kill", "policy", "next chapter"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	golden.RequireEqual(t, out)
	m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}) // any key closes it, q too
	if m.showHelp || m.quitting {
		t.Errorf("after q the help is open %v, the lab quitting %v; want the help closed", m.showHelp, m.quitting)
	}
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}) // ctrl+c quits from anywhere
	if !m.quitting {
		t.Error("ctrl+c in the help did not quit")
	}
}

func TestScreenDebrief(t *testing.T) {
	m, fs := fixtureModel(t, 100, 30)
	prog := m.prog.Chapter("demo")
	m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"}) // to step 2: the fake is closed in a command
	if m.stepIdx != 1 || m.cur != nil {
		t.Fatalf("step %d, cur %v", m.stepIdx, m.cur)
	}
	if prog.Facts["p99_rr_ms"] != 48 || prog.Facts[measuredPrefix+"best-policy"] != 47.5 {
		t.Errorf("facts not collected: %v", prog.Facts)
	}
	_ = fs
	m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"}) // past the last step
	if m.mode != modeDebrief || !prog.Done {
		t.Fatalf("mode %v, done %v", m.mode, prog.Done)
	}
	out := screen(m)
	checkSize(t, out, 100, 30)
	for _, want := range []string{"What you saw", "p99_rr_ms", "48", "47.5 ms → 2 Least connections", "✗"} {
		if !strings.Contains(out, want) {
			t.Errorf("debrief lacks %q", want)
		}
	}
	golden.RequireEqual(t, out)
}

// TestKeysSendActions checks that keys become the documented actions.
func TestKeysSendActions(t *testing.T) {
	m, fs := fixtureModel(t, 120, 40)
	press := func(s string) {
		t.Helper()
		switch s {
		case "tab":
			m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
		case "space":
			m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		default:
			r := []rune(s)[0]
			m.Update(tea.KeyPressMsg{Code: r, Text: s})
		}
	}
	press("x") // nothing selected: kill is disabled
	press("tab")
	press("tab") // web-1
	press("x")
	press("l")
	press("+")
	press("-")
	press("s")
	press("space")
	press(">")
	press("p")
	press("d")
	var got []string
	for _, a := range fs.applied {
		got = append(got, a.String())
	}
	want := []string{"kill web-1", "latency web-1 50ms", "rate 250", "rate 200", "spike 5x 10s", "pause", "speed 2x",
		"set lb.policy least-conn", "drain web-1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions\n got %q\nwant %q", got, want)
	}
}

func BenchmarkRender160x48(b *testing.B) {
	b.Run("color", func(b *testing.B) { benchRender(b, true) })
	b.Run("nocolor", func(b *testing.B) { benchRender(b, false) })
}

// benchRender is one snapshot taken in and the screen drawn, per op.
func benchRender(b *testing.B, color bool) {
	m, _ := fixtureModelColor(b, 160, 48, color)
	snap := fixtureSnapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snap.T += 250e6
		m.Update(snapshotMsg{id: m.cur.id, snap: snap})
		_ = m.View()
	}
}

// No chapter key clashes with a global key or another key of its step:
// the lab would drop it and the step's text would name a dead key.
func TestChapterKeysDoNotClash(t *testing.T) {
	for _, ch := range catalog.All() {
		for _, st := range ch.Steps {
			km := DefaultKeyMap(func(s string) string { return s })
			if clashes := km.SetStepKeys(st.Keys, func(s string) string { return s }); len(clashes) > 0 {
				t.Errorf("%s/%s: keys %v clash with a global key or each other", ch.ID, st.ID, clashes)
			}
		}
	}
}

// At 80x24 the help shows every key and the way out.
func TestHelpFitsAt80x24(t *testing.T) {
	m, _ := fixtureModel(t, 80, 24)
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	out := screen(m)
	checkSize(t, out, 80, 24)
	for _, want := range []string{"pgdn", "backspace", "esc", "Press any key to close this help."} {
		if !strings.Contains(out, want) {
			t.Errorf("help at 80x24 lacks %q:\n%s", want, out)
		}
	}
}

// A debrief with nothing measured says so and does not tell the learner
// what they saw: its text speaks of figures the run did not make.
func TestDebriefUnplayed(t *testing.T) {
	c := &common{styles: NewStyles(true), tr: testWords(t), factLabel: func(k string) string { return k }}
	p := &debriefPane{c: c}
	p.SetSize(100, 40)
	p.set(fixtureChapter(), fixtureLesson(), &ChapterProgress{})
	out := ansi.Strip(p.View())
	if strings.Contains(out, "What you saw") || !strings.Contains(out, "No figures measured yet") {
		t.Errorf("unplayed debrief:\n%s", out)
	}
	p.set(fixtureChapter(), fixtureLesson(), &ChapterProgress{Facts: map[string]float64{"p99_ratio": 0.4}})
	if out := ansi.Strip(p.View()); !strings.Contains(out, "What you saw") {
		t.Errorf("played debrief lacks its text:\n%s", out)
	}
}

// In a second where every request failed there is no latency to show: the
// legend says "—", not "0ms" (which reads as instant).
func TestLatencyLegendWhenAllFail(t *testing.T) {
	snap := fixtureSnapshot()
	last := &snap.Series[len(snap.Series)-1]
	last.OK, last.Failed, last.P50, last.P99 = 0, last.Sent, 0, 0
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, snap)
	out := ansi.Strip(m.charts.View())
	if !strings.Contains(out, "p50 —") || !strings.Contains(out, "p99 —") || strings.Contains(out, "p50 0ms") {
		t.Errorf("all failed, the latency legend reads:\n%s", out)
	}
}

// A gauge that shows a prediction's answer is hidden until the learner
// answers (chapter 5 step 5's db reads/expiry gave the number away).
func TestGaugeHiddenUntilPredicted(t *testing.T) {
	snap0 := fixtureSnapshot
	ch := fixtureChapter()
	pr := *ch.Steps[0].Prediction
	pr.Hides = []string{"p99_round_robin_ms"}
	ch.Steps[0].Prediction = &pr
	m, _ := openStep(t, []*chapters.Chapter{ch}, 0, 0, fixtureSnapshot())
	if out := ansi.Strip(m.stats.View()); strings.Contains(out, "p99_round_robin_ms") || !strings.Contains(out, "cost_per_hour") {
		t.Errorf("with the prediction open the gauges read:\n%s", out)
	}
	if got, want := m.stats.rows(), len(snap0().Gauges)+len(snap0().Knobs)-1; got != want {
		t.Errorf("the pane asks room for %d rows, want %d: a hidden gauge takes none", got, want)
	}
	run(m, m.lessonP.Update(press("1")))
	m.sync()
	if out := ansi.Strip(m.stats.View()); !strings.Contains(out, "p99_round_robin_ms") {
		t.Errorf("once answered the gauge should show:\n%s", out)
	}
}

// A gauge with nothing to measure keeps its row and shows —, so a region
// whose every request fails does not silently drop out of the panel.
func TestGaugeWithNoFigure(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Gauges = append([]engine.Gauge{{Name: "p50 eu", Unit: "ms", None: true}}, snap.Gauges...)
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0, snap)
	out := ansi.Strip(m.stats.View())
	if !strings.Contains(out, "p50 eu") || !strings.Contains(out, "—") || strings.Contains(out, "0 ms") {
		t.Errorf("a gauge with no figure reads:\n%s", out)
	}
}

// The last chapter's debrief does not send the learner on to a chapter that
// does not exist: no "Next" section, no "n: next chapter".
func TestLastDebriefHasNoNext(t *testing.T) {
	all := catalog.All()
	for _, lang := range assets.Langs() {
		ui := assets.UI(lang)
		m := newModel(config{
			all: all, start: len(all) - 1, lang: lang, noColor: true, tr: ui.T, factLabel: func(k string) string { return assets.FactLabel(lang, k) },
			loadLesson: func(id string) (*assets.Lesson, error) { return assets.LoadLesson(lang, id) },
			runner:     newRunner(func(*chapters.Chapter, int) (*chapters.Session, error) { return nil, errNoSystem }),
		})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = m.gotoStep(len(all)-1, 0)
		_ = m.showDebrief()
		m.debrief.SetSize(120, 1000)
		out := ansi.Strip(m.debrief.View())
		next := "### " + ui.T("debrief_next_heading")
		lesson, _ := assets.LoadLesson(lang, all[len(all)-1].ID)
		if !strings.Contains(lesson.Debrief, next) {
			t.Fatalf("%s: the lesson has no %q section: the test checks nothing", lang, next)
		}
		if strings.Contains(out, ui.T("debrief_next")) || !strings.Contains(out, ui.T("debrief_last")) {
			t.Errorf("%s: the last debrief's help line:\n%s", lang, out)
		}
		after := lesson.Debrief[strings.Index(lesson.Debrief, next)+len(next):]
		if line := strings.TrimSpace(after); line != "" && strings.Contains(out, strings.Fields(line)[0]+" "+strings.Fields(line)[1]) {
			t.Errorf("%s: the Next section is still there:\n%s", lang, out)
		}
	}
}
