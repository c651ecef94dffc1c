package lab

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"scalelab/assets"
	"scalelab/chapters"
)

// predictedMsg is the learner's answer to a step's prediction.
type predictedMsg struct {
	id      string
	value   float64 // a choice's index (from 0, as Prediction.Correct), or the number typed
	skipped bool
}

// lessonPane shows the step: what to do (markdown), the hint, the
// prediction and the objectives with live check marks. The text above the
// prediction scrolls; the prediction and objectives stay in view when they
// fit in half the pane.
type lessonPane struct {
	c    *common
	w, h int

	step          *chapters.Step
	text          assets.StepText
	stepNo, steps int

	answered, skipped bool
	answer            float64
	input             string
	measured          float64
	hasMeasured       bool
	met               func(id string) bool
	allMet, lastStep  bool
	hintTier          int    // 0 none, 1 the hint, 2 the hint and the solution
	note              string // a problem starting the step

	offset   int
	maxOff   int
	scrollH  int // lines the scrolled text shows, as last drawn
	cacheKey string
	cache    []string
}

func newLessonPane(c *common) *lessonPane { return &lessonPane{c: c} }

func (p *lessonPane) SetSize(w, h int) { p.w, p.h = w, h }

// setStep shows a new step; answer is the saved prediction, if any.
func (p *lessonPane) setStep(step *chapters.Step, text assets.StepText, no, of int, answer float64, answered bool) {
	*p = lessonPane{c: p.c, w: p.w, h: p.h, step: step, text: text, stepNo: no, steps: of,
		answer: answer, answered: answered, lastStep: no == of}
}

// setLive updates what the running step has measured and met.
func (p *lessonPane) setLive(met func(string) bool, allMet bool, measured float64, ok bool) {
	p.met, p.allMet, p.measured, p.hasMeasured = met, allMet, measured, ok
}

// open reports an unanswered prediction: its number of choices, or 0 and
// true for a number.
func (p *lessonPane) open() (choices int, number bool) {
	if p.step == nil || p.step.Prediction == nil || p.answered || p.skipped {
		return 0, false
	}
	if n := p.step.Prediction.Choices; n > 0 {
		return n, false
	}
	return 0, true
}

func (p *lessonPane) ShortHelp() []key.Binding {
	k := p.c.keys
	return []key.Binding{k.Choose, k.Digit, k.Enter, k.Skip, k.ScrollDown}
}
func (p *lessonPane) FullHelp() [][]key.Binding {
	k := p.c.keys
	return [][]key.Binding{{k.Choose, k.Digit, k.Enter, k.Erase, k.Skip}, {k.ScrollUp, k.ScrollDown, k.PageUp, k.PageDown}}
}

func (p *lessonPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := p.c.keys
	choices, number := p.open()
	switch {
	case choices > 0 && key.Matches(km, k.Choose):
		n, _ := strconv.Atoi(km.String())
		if n >= 1 && n <= choices {
			return p.answerCmd(float64(n - 1))
		}
	case number && key.Matches(km, k.Digit):
		if len(p.input) < 9 {
			p.input += km.String()
		}
	case number && key.Matches(km, k.Decimal) && !strings.Contains(p.input, "."):
		p.input += "."
	case number && key.Matches(km, k.Erase) && p.input != "":
		p.input = p.input[:len(p.input)-1]
	case number && key.Matches(km, k.Enter) && p.input != "":
		if v, err := strconv.ParseFloat(p.input, 64); err == nil {
			return p.answerCmd(v)
		}
	case (choices > 0 || number) && key.Matches(km, k.Skip):
		p.skipped = true
		id := p.step.Prediction.ID
		return func() tea.Msg { return predictedMsg{id: id, skipped: true} }
	case key.Matches(km, k.ScrollUp):
		p.scroll(-1)
	case key.Matches(km, k.ScrollDown):
		p.scroll(1)
	case key.Matches(km, k.PageUp):
		p.scroll(-p.page())
	case key.Matches(km, k.PageDown):
		p.scroll(p.page())
	}
	return nil
}

func (p *lessonPane) answerCmd(v float64) tea.Cmd {
	p.answered, p.answer, p.input = true, v, ""
	id := p.step.Prediction.ID
	return func() tea.Msg { return predictedMsg{id: id, value: v} }
}

// page is how far a page key scrolls: the text in view less a line, so
// no line is skipped.
func (p *lessonPane) page() int {
	h := p.scrollH
	if h <= 0 {
		h = p.h / 2
	}
	return max(h-1, 1)
}

func (p *lessonPane) scroll(d int) { p.offset = min(max(p.offset+d, 0), p.maxOff) }

func (p *lessonPane) scrollable() bool { return p.maxOff > 0 }

func (p *lessonPane) View() string { return strings.Join(p.lines(), "\n") }

// body is the scrolling text: hint, problem, step body (cached per width).
func (p *lessonPane) body(w int) []string {
	ck := fmt.Sprintf("%s|%d|%d|%s", p.text.ID, w, p.hintTier, p.note)
	if ck == p.cacheKey {
		return p.cache
	}
	st := p.c.styles
	var out []string
	if p.hintTier > 0 {
		hint := p.text.Hint
		if hint == "" {
			hint = p.c.T("no_hint")
		}
		out = append(out, st.Warn.Render("› "+p.c.T("hint")))
		out = append(out, renderMarkdown(st, "> "+hint, w)...)
		out = append(out, "")
	}
	if p.hintTier > 1 && p.step != nil {
		out = append(out, st.Warn.Render("› "+p.c.T("solution")))
		for _, l := range p.step.Solution.Steps(p.step.Keys) {
			out = append(out, wrapText(l, w)...)
		}
		out = append(out, "")
	}
	if p.note != "" {
		for _, l := range wrapText(p.note, w) {
			out = append(out, st.StatusErr.Render(l))
		}
		out = append(out, "")
	}
	out = append(out, renderMarkdown(st, p.text.Body, w)...)
	p.cacheKey, p.cache = ck, out
	return out
}

// pinned is the prediction and the objectives, as whole as fits, and rest
// what scrolls below the text instead. Until the prediction is answered it
// stays in view; after, the objectives do (they are what the learner
// watches while acting): the whole prediction, else it without its
// question, else the objectives alone.
func (p *lessonPane) pinned(w, avail int) (pin, rest []string) {
	fits := func(n int) bool { return n <= avail*2/3 && avail-n-1 >= 3 }
	pred, obj := p.prediction(w, false), p.objectives(w)
	if fits(len(pred) + len(obj)) {
		return append(pred, obj...), nil
	}
	if len(pred) > 0 && !p.answered && !p.skipped {
		// the question waits for an answer: it stays in view, above three
		// lines of the text at the least
		if len(pred) <= avail-4 {
			return pred, obj
		}
		return nil, append(pred, obj...)
	}
	if short := p.prediction(w, true); fits(len(short) + len(obj)) {
		return append(short, obj...), nil
	}
	// the objectives alone may take all but a line of text and the rule: a
	// pane made short by the inspector still shows their ticks
	if len(obj) > 0 && len(obj) <= avail-2 {
		return obj, pred
	}
	return nil, append(pred, obj...)
}

// prediction is the prediction block; short leaves out the question once
// it is answered or skipped.
func (p *lessonPane) prediction(w int, short bool) []string {
	c, st := p.c, p.c.styles
	var out []string
	if p.step != nil && p.step.Prediction != nil {
		pr := p.step.Prediction
		out = append(out, st.H2.Render(c.T("prediction")))
		q := p.text.Question
		if q == "" {
			q = pr.ID
		}
		if !short || !(p.answered || p.skipped) {
			out = append(out, wrapWords(words(inline(st, q, st.Strong)), w, "", "")...)
		}
		if !p.answered { // once answered, the verdict names the choice
			for i, ch := range p.text.Choices {
				mark := st.Key.Render(fmt.Sprintf("%d", i+1)) + " "
				out = append(out, wrapWords(words(inline(st, ch, st.Plain)), w, " "+mark, "   ")...)
			}
		}
		switch {
		case p.skipped:
			out = append(out, st.Faint.Render(c.T("skipped")))
		case !p.answered && pr.Choices > 0:
			out = append(out, wrapWords(words([]piece{{c.Tf("predict_pick", pr.Choices) + " · " + c.T("predict_skip"), st.Muted}}), w, "", "")...)
		case !p.answered:
			unit := ""
			if pr.Unit != "" {
				unit = " " + c.unitLabel(pr.Unit)
			}
			// the input, then how to answer, wrapped rather than cut
			out = append(out, wrapWords(append([]word{{{"› " + p.input + "▏" + unit, st.Accent}}},
				words([]piece{{c.T("predict_number"), st.Muted}})...), w, "", "")...)
		default:
			out = append(out, wrapText(p.verdict(), w)...)
		}
		out = append(out, "")
	}
	return out
}

// objectives is the objectives block, ticked as they are met.
func (p *lessonPane) objectives(w int) []string {
	c, st := p.c, p.c.styles
	var out []string
	if p.step == nil || len(p.step.Objectives) == 0 {
		return out
	}
	out = append(out, st.H2.Render(c.T("objectives")))
	if p.step.Prediction != nil && !p.answered && !p.skipped {
		// the objectives can give the answer away: they show once the
		// learner has predicted or skipped
		return append(out, wrapWords(words([]piece{{c.T("objectives_after"), st.Muted}}), w, "", "")...)
	}
	for _, o := range p.step.Objectives {
		text := p.text.Objectives[o.ID]
		if text == "" {
			text = o.ID
		}
		mark, ts := st.Faint.Render("○ "), st.Text
		if p.met != nil && p.met(o.ID) {
			mark, ts = st.OK.Render("✓ "), st.Muted
		}
		out = append(out, wrapWords(words(inline(st, text, ts)), w, mark, "  ")...)
	}
	if p.allMet {
		next := c.T("all_met")
		if p.lastStep {
			next = c.T("all_met_last")
		}
		out = append(out, wrapWords(words([]piece{{next, st.Good}}), w, "", "")...)
	}
	return out
}

// verdict is "you said X · measured Y ✓".
func (p *lessonPane) verdict() string {
	c, st := p.c, p.c.styles
	pr := p.step.Prediction
	said := fmtNum(p.answer)
	if pr.Choices > 0 {
		said = choiceText(p.text, int(p.answer))
	} else {
		said = c.withUnit(said, pr.Unit)
	}
	s := st.Muted.Render(c.T("you_said")+" ") + st.Accent.Render(said) + st.Faint.Render(" · ")
	if !p.hasMeasured {
		return s + st.Muted.Render(c.T("not_measured_yet"))
	}
	// a unit of several words stays whole on a line ("건 (읽기 1,000건당)")
	m := strings.ReplaceAll(c.withUnit(fmtNum(p.measured), pr.Unit), " ", "\u00a0")
	// say what the figure is: "p99 least-conn / round robin = 0.48 ×"
	key := "measure_" + strings.ReplaceAll(pr.ID, "-", "_")
	if what := c.factLabel(key); what != "" && what != key {
		m = what + " = " + m
	}
	s += st.Muted.Render(c.T("measured")+" ") + st.Bold.Render(m)
	if pr.Choices > 0 && pr.Correct != nil {
		right := pr.Correct(p.measured)
		if right == int(p.answer) {
			s += " " + st.Good.Render("✓ "+c.T("correct"))
		} else {
			s += " " + st.Bad.Render("✗ "+c.T("wrong")) + st.Muted.Render(" ("+choiceText(p.text, right)+")")
		}
	}
	return s
}

// scrollMark says where the text is scrolled to.
func (p *lessonPane) scrollMark() string {
	arrow := "↓"
	if p.offset == p.maxOff {
		arrow = "↑"
	} else if p.offset > 0 {
		arrow = "↕"
	}
	return fmt.Sprintf("%s %d%%", arrow, 100*p.offset/p.maxOff)
}

// scrollRule separates the text from the prediction, with the scroll mark.
func (p *lessonPane) scrollRule(w int) string {
	st := p.c.styles
	if p.maxOff == 0 {
		return st.Rule.Render(strings.Repeat("┄", w))
	}
	mark := " " + p.scrollMark() + " "
	return st.Rule.Render(strings.Repeat("┄", max(w-len([]rune(mark))-2, 0))) + st.Muted.Render(mark) + st.Rule.Render("┄┄")
}

func (p *lessonPane) lines() []string {
	c, st := p.c, p.c.styles
	w := max(p.w-1, 10) // one column of margin on the right
	avail := p.h - 1
	body := p.body(w)
	pin, rest := p.pinned(w, avail)
	if len(rest) > 0 {
		body = append(append(append([]string{}, body...), ""), rest...)
	}
	var content []string
	var scrollH int
	pinnedView := len(pin) > 0
	if pinnedView {
		scrollH = avail - len(pin) - 1
		p.maxOff = max(len(body)-scrollH, 0)
		p.offset = min(p.offset, p.maxOff)
		content = append(content, fit(body[p.offset:], w, scrollH)...)
		content = append(content, p.scrollRule(w))
		content = append(content, pin...)
	} else {
		scrollH = avail
		p.maxOff = max(len(body)-avail, 0)
		p.offset = min(p.offset, p.maxOff)
		content = body[p.offset:]
	}
	p.scrollH = scrollH
	right := ""
	if !pinnedView && p.maxOff > 0 {
		right = st.Faint.Render(p.scrollMark())
	}
	title := c.Tf("step_of", p.stepNo, p.steps)
	if p.text.Title != "" {
		title += " · " + p.text.Title
	}
	return titled(c, title, right, content, p.w, p.h)
}
