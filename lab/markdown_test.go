package lab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/chapters/catalog"
)

func plainMarkdown(src string, w int) string {
	return ansi.Strip(strings.Join(renderMarkdown(NewStyles(true), src, w), "\n"))
}

// Emphasis closes before a Korean particle, and in the middle of a word;
// underscores inside names stay as they are.
func TestMarkdownEmphasisNextToHangul(t *testing.T) {
	for src, want := range map[string]string{
		"*적중률*이 오릅니다":                "적중률이 오릅니다",
		"**캐시 적중률**은":                "캐시 적중률은",
		"*hit ratio*가 climbs":        "hit ratio가 climbs",
		"lost_while_degraded counts": "lost_while_degraded counts",
		"2 * 3 * 4":                  "2 * 3 * 4",
	} {
		if got := plainMarkdown(src, 80); got != want {
			t.Errorf("%q rendered %q, want %q", src, got, want)
		}
	}
}

// No lesson, in any language, shows a raw emphasis mark: every * in the
// text opens or closes emphasis (code spans aside).
func TestLessonsShowNoRawAsterisks(t *testing.T) {
	for _, lang := range assets.Langs() {
		ids, err := assets.LessonIDs(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			l, err := assets.LoadLesson(lang, id)
			if err != nil {
				t.Fatal(err)
			}
			texts := []string{l.Summary, l.Debrief}
			for _, st := range l.Steps {
				texts = append(texts, st.Body, "> "+st.Hint, st.Question)
				texts = append(texts, st.Choices...)
				for _, o := range st.Objectives {
					texts = append(texts, o)
				}
			}
			for _, src := range texts {
				out := plainMarkdown(withoutCode(src), 200)
				if strings.Contains(out, "*") {
					t.Errorf("%s/%s shows a raw *: %q", lang, id, firstLineWith(out, "*"))
				}
			}
		}
	}
}

// withoutCode drops `code` spans and fenced blocks, where * is literal.
func withoutCode(s string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		parts := strings.Split(line, "`")
		for i := 0; i < len(parts); i += 2 {
			b.WriteString(parts[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// While a prediction is open, the objectives are not shown: they could
// give the answer away. Once answered or skipped, they are.
func TestObjectivesHiddenUntilPredicted(t *testing.T) {
	c := &common{styles: NewStyles(true), tr: testWords(t), factLabel: func(k string) string { return k }}
	step := &chapters.Step{ID: "s", Prediction: &chapters.Prediction{ID: "q", Choices: 2}, Objectives: []chapters.Objective{{ID: "o"}}}
	text := assets.StepText{ID: "s", Question: "Do reads fail?", Choices: []string{"Yes", "No"}, Objectives: map[string]string{"o": "Kill it: no read fails"}}
	p := newLessonPane(c)
	p.setStep(step, text, 1, 2, 0, false)
	open := ansi.Strip(strings.Join(p.objectives(80), "\n"))
	if strings.Contains(open, "no read fails") || !strings.Contains(open, "once you answer") {
		t.Errorf("with the prediction open the pane shows:\n%s", open)
	}
	p.setStep(step, text, 1, 2, 1, true)
	if answered := ansi.Strip(strings.Join(p.objectives(80), "\n")); !strings.Contains(answered, "no read fails") {
		t.Errorf("once answered the objectives should show:\n%s", answered)
	}
}

// In a short pane (80x24 gives the lesson about 35x20, 35x11 beside the
// inspector) the question stays in view until answered, and after that the
// objectives do, even when the question, the verdict and every objective do
// not fit together.
func TestObjectivesStayInViewWhenShort(t *testing.T) {
	c := &common{styles: NewStyles(true), tr: testWords(t), factLabel: func(k string) string { return k }}
	step := &chapters.Step{ID: "s", Prediction: &chapters.Prediction{ID: "q", Unit: "%"},
		Objectives: []chapters.Objective{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	text := assets.StepText{ID: "s", Body: strings.Repeat("A long paragraph of lesson text that wraps. ", 20),
		Question: "Both replicas are down. What share of the reads fail while they are?",
		Objectives: map[string]string{
			"a": "Kill both replicas and watch the primary take every read",
			"b": "Restart a replica and watch its lag fall back to the other's",
			"c": "Add a replica: it starts from a copy of the primary"}}
	p := newLessonPane(c)
	p.SetSize(35, 20)
	p.setStep(step, text, 2, 5, 0, false)
	if v := ansi.Strip(p.View()); !strings.Contains(v, "What share") || !strings.Contains(v, "›") {
		t.Errorf("the open question is not in view:\n%s", v)
	}
	p.setStep(step, text, 2, 5, 100, true)
	v := ansi.Strip(p.View())
	for _, want := range []string{"Kill both", "Restart a", "Add a", "A long paragraph"} {
		if !strings.Contains(v, want) {
			t.Errorf("answered: %q is not in view:\n%s", want, v)
		}
	}
	// beside the open inspector the pane is about 11 rows: the objectives'
	// ticks still show
	p.SetSize(35, 11)
	v = ansi.Strip(p.View())
	for _, want := range []string{"Kill both", "Restart a", "Add a"} {
		if !strings.Contains(v, want) {
			t.Errorf("answered, 11 rows: %q is not in view:\n%s", want, v)
		}
	}
}

// No line of any lesson, in any language, at the lesson pane's widths,
// ends with a figure whose unit starts the next line ("20" / "ms").
func TestLessonsKeepFiguresWithUnits(t *testing.T) {
	st := NewStyles(true)
	glued := 0
	for _, lang := range assets.Langs() {
		for _, ch := range catalog.All() {
			l, err := assets.LoadLesson(lang, ch.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range l.Steps {
				for w := 28; w <= 60; w++ {
					lines := renderMarkdown(st, s.Body, w)
					for i := 1; i < len(lines); i++ {
						prev := strings.Fields(ansi.Strip(lines[i-1]))
						next := strings.Fields(ansi.Strip(lines[i]))
						if len(prev) == 0 || len(next) == 0 {
							continue
						}
						a := words([]piece{{prev[len(prev)-1], st.Text}})
						b := words([]piece{{next[0], st.Text}})
						if endsInDigit(a[0]) && isUnitWord(b[0]) {
							t.Errorf("%s %s/%s at width %d: %q / %q", lang, ch.ID, s.ID, w, lines[i-1], lines[i])
						}
					}
					for _, line := range lines {
						if strings.Contains(ansi.Strip(line), "20 ms") {
							glued++
						}
					}
				}
			}
		}
	}
	if glued == 0 {
		t.Error("no lesson line holds \"20 ms\": the check looked at nothing")
	}
}

// A table wider than the pane wraps its widest cells: every figure is read
// whole at 80 columns (chapter 2's debrief cut 687 to "6…" in Korean and
// lost every value in English).
func TestTableWrapsInsteadOfCutting(t *testing.T) {
	st := NewStyles(true)
	rows := [][]string{
		{"figure", "value"},
		{"more arrived than the largest size can serve and it turned requests away (1 = yes)", "1"},
		{"가장 큰 크기가 처리할 수 있는 요청/초 (모델링된 값), 긴 설명이 붙은 라벨입니다", "687"},
		{"cost per hour at the largest size (modelled)", "2.4"},
		{"outage length (s)", "11.5"},
	}
	for _, w := range []int{40, 78, 120} {
		lines := tableLines(st, rows, w, true)
		text := ansi.Strip(strings.Join(lines, "\n"))
		for _, l := range lines {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: a line is %d wide: %q", w, ansi.StringWidth(l), ansi.Strip(l))
			}
		}
		if strings.Contains(text, "…") {
			t.Errorf("width %d: a cell was cut:\n%s", w, text)
		}
		for _, v := range []string{"│ 1", "│ 687", "│ 2.4", "│ 11.5"} {
			if !strings.Contains(text, v) {
				t.Errorf("width %d: no %q:\n%s", w, v, text)
			}
		}
	}
}

// A question with its choices stays in view at 80x24 before it is answered
// (chapter 1 steps 1 and 2 pushed it below the text in English), with the
// whole "press 1-3 · esc: skip" line.
func TestOpenQuestionInViewWhenShort(t *testing.T) {
	for _, lang := range assets.Langs() {
		ui := assets.UI(lang)
		c := &common{styles: NewStyles(true), tr: ui.T, factLabel: func(k string) string { return k }}
		ch := catalog.All()[0]
		lesson, err := assets.LoadLesson(lang, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		step := &ch.Steps[0]
		text, _ := lesson.Step(step.ID)
		p := newLessonPane(c)
		p.SetSize(35, 20)
		p.setStep(step, text, 1, len(ch.Steps), 0, false)
		v := ansi.Strip(p.View())
		flat := strings.Join(strings.Fields(v), " ")
		skip := strings.Fields(ui.T("predict_skip"))
		for _, want := range []string{text.Choices[len(text.Choices)-1], skip[len(skip)-1]} {
			if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
				t.Errorf("%s: %q is not in view:\n%s", lang, want, v)
			}
		}
	}
}

// Wrapped plain text (a verdict, a note) keeps a figure with its unit too.
func TestWrapTextKeepsFiguresWithUnits(t *testing.T) {
	s := "measured stale reads per 1,000 reads, 200 ms / 50 ms delay = 4.67× ✓ right"
	for w := 20; w <= 60; w++ {
		lines := wrapText(s, w)
		for i := 1; i < len(lines); i++ {
			if strings.HasPrefix(lines[i], "ms") {
				t.Errorf("width %d: %q", w, lines)
			}
		}
		if got := strings.Join(lines, " "); strings.Join(strings.Fields(got), " ") != s {
			t.Errorf("width %d: the text changed: %q", w, got)
		}
	}
}

// A number question's prompt wraps whole at the lesson pane's 80x24 width,
// in every language ("type a number, then en…" was cut).
func TestNumberPromptWraps(t *testing.T) {
	for _, lang := range assets.Langs() {
		ui := assets.UI(lang)
		c := &common{styles: NewStyles(true), tr: ui.T, factLabel: func(k string) string { return k }}
		step := &chapters.Step{ID: "s", Prediction: &chapters.Prediction{ID: "q", Unit: "%"}}
		p := newLessonPane(c)
		p.SetSize(30, 20)
		p.setStep(step, assets.StepText{ID: "s", Question: "What share fails?"}, 1, 1, 0, false)
		flat := strings.Join(strings.Fields(ansi.Strip(p.View())), " ")
		if want := strings.Join(strings.Fields(ui.T("predict_number")), " "); !strings.Contains(flat, want) {
			t.Errorf("%s: %q is not whole in:\n%s", lang, want, ansi.Strip(p.View()))
		}
	}
}

// A page key scrolls the text in view less one line, so no line of the
// lesson is skipped however short the scrolled part is (at 80×24 it is a
// few lines above the pinned objectives).
func TestPageDownSkipsNoLine(t *testing.T) {
	c := &common{styles: NewStyles(true), tr: testWords(t), factLabel: func(k string) string { return k }}
	step := &chapters.Step{ID: "s", Objectives: []chapters.Objective{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	var body []string
	for i := range 40 {
		body = append(body, fmt.Sprintf("line%02d.", i))
	}
	text := assets.StepText{ID: "s", Body: strings.Join(body, "\n\n"),
		Objectives: map[string]string{"a": "Kill eu with a 15 s TTL: failures end when cached answers expire",
			"b": "Again with a 5 s TTL: failures end sooner and DNS takes more queries/s",
			"c": "Again with client fallback on: 10 failed requests or fewer"}}
	p := newLessonPane(c)
	p.SetSize(35, 16)
	p.setStep(step, text, 1, 2, 0, true)
	seen := map[string]bool{}
	for range 40 {
		for _, l := range strings.Split(ansi.Strip(p.View()), "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "line") {
				seen[f[0]] = true
			}
		}
		p.scroll(p.page())
	}
	for _, l := range body {
		if !seen[l] {
			t.Errorf("paging down never showed %q (page %d lines)", l, p.page())
		}
	}
}
