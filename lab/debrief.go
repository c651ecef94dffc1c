package lab

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
)

// debriefPane closes a chapter: the lesson's debrief, the learner's own
// measured figures and their predictions beside what was measured.
type debriefPane struct {
	c      *common
	w, h   int
	title  string
	md     string
	facts  [][]string // label, value
	preds  [][]string // question, said, measured, verdict
	offset int
	maxOff int
	ckey   string
	cache  []string
	last   bool // no chapter follows: no "Next" section, no "n: next chapter"
}

// withoutNext drops the debrief's section headed "### "+heading ("Next"),
// which speaks of a chapter that does not exist yet after the last one.
func withoutNext(md, heading string) string {
	h := "### " + heading
	i := strings.Index(md, h)
	if i < 0 {
		return md
	}
	rest := md[i+len(h):]
	if j := strings.Index(rest, "\n#"); j >= 0 {
		return md[:i] + rest[j+1:]
	}
	return strings.TrimRight(md[:i], "\n")
}

func (p *debriefPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *debriefPane) ShortHelp() []key.Binding {
	k := p.c.keys
	return []key.Binding{k.ScrollDown, k.ScrollUp}
}
func (p *debriefPane) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

func (p *debriefPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := p.c.keys
	d := 0
	switch {
	case key.Matches(km, k.ScrollUp):
		d = -1
	case key.Matches(km, k.ScrollDown):
		d = 1
	case key.Matches(km, k.PageUp):
		d = -p.h / 2
	case key.Matches(km, k.PageDown):
		d = p.h / 2
	}
	p.offset = min(max(p.offset+d, 0), p.maxOff)
	return nil
}

// set fills the debrief of a chapter from its lesson and the progress.
func (p *debriefPane) set(ch *chapters.Chapter, lesson *assets.Lesson, cp *ChapterProgress) {
	c := p.c
	*p = debriefPane{c: c, w: p.w, h: p.h}
	if lesson != nil {
		p.title, p.md = lesson.Title, lesson.Debrief
	}
	keys := make([]string, 0, len(cp.Facts))
	for k := range cp.Facts {
		if !strings.HasPrefix(k, measuredPrefix) {
			keys = append(keys, k)
		}
	}
	// by the step that measured them, in the order of the steps
	sort.Slice(keys, func(a, b int) bool {
		sa, sb := cp.FactSteps[keys[a]], cp.FactSteps[keys[b]]
		if sa != sb {
			return sa < sb
		}
		return keys[a] < keys[b]
	})
	for _, k := range keys {
		p.facts = append(p.facts, []string{c.factLabel(k), fmtNum(cp.Facts[k])})
	}
	for _, st := range ch.Steps {
		pr := st.Prediction
		if pr == nil {
			continue
		}
		var text assets.StepText
		if lesson != nil {
			text, _ = lesson.Step(st.ID)
		}
		q := text.Question
		if q == "" {
			q = pr.ID
		}
		said, ok := cp.Predictions[pr.ID]
		saidS := "—"
		if ok {
			saidS = fmtNum(said)
			if pr.Choices > 0 {
				saidS = choiceText(text, int(said))
			} else {
				saidS = c.withUnit(saidS, pr.Unit)
			}
		}
		meas, mok := cp.Facts[measuredPrefix+pr.ID]
		measS, verdict := c.T("not_measured_yet"), ""
		if mok {
			measS = fmtNum(meas)
			measS = c.withUnit(measS, pr.Unit)
			if pr.Choices > 0 && pr.Correct != nil {
				right := pr.Correct(meas)
				measS += " → " + choiceText(text, right)
				if ok {
					verdict = "✗"
					if right == int(said) {
						verdict = "✓"
					}
				}
			}
		}
		p.preds = append(p.preds, []string{q, saidS, measS, verdict})
	}
}

// choiceText names a choice by its index (from 0) as it is shown: "2 Least
// connections".
func choiceText(t assets.StepText, i int) string {
	if i >= 0 && i < len(t.Choices) {
		return fmt.Sprintf("%d %s", i+1, t.Choices[i])
	}
	return fmt.Sprintf("%d", i+1)
}

func (p *debriefPane) content(w int) []string {
	ck := fmt.Sprintf("%d|%s", w, p.title)
	if ck == p.ckey {
		return p.cache
	}
	c, st := p.c, p.c.styles
	// the learner's figures first: the debrief text refers to them above
	var out []string
	out = append(out, st.H2.Render(c.T("your_figures")))
	if len(p.facts) == 0 {
		out = append(out, st.Muted.Render(c.T("no_figures")))
	} else {
		out = append(out, tableLines(st, append([][]string{{c.T("figure"), c.T("value")}}, p.facts...), w, true)...)
	}
	if len(p.preds) > 0 {
		out = append(out, "", st.H2.Render(c.T("your_predictions")))
		rows := [][]string{{c.T("prediction"), c.T("you_said"), c.T("measured"), ""}}
		for _, r := range p.preds {
			if r[3] == "✓" {
				r = []string{r[0], r[1], r[2], st.Good.Render("✓")}
			}
			rows = append(rows, r)
		}
		out = append(out, tableLines(st, rows, w, true)...)
	}
	if p.md != "" && len(p.facts) > 0 { // the text speaks of what the run measured
		out = append(out, "")
		out = append(out, renderMarkdown(st, p.md, w)...)
	}
	next := c.T("debrief_next")
	if p.last {
		next = c.T("debrief_last")
	}
	out = append(out, "")
	for _, l := range wrapText(next, w) {
		out = append(out, st.Muted.Render(l))
	}
	p.ckey, p.cache = ck, out
	return out
}

func (p *debriefPane) View() string { return strings.Join(p.lines(), "\n") }

func (p *debriefPane) lines() []string {
	c, st := p.c, p.c.styles
	w := max(min(p.w-2, 100), 10)
	all := p.content(w)
	avail := p.h - 1
	p.maxOff = max(len(all)-avail, 0)
	p.offset = min(p.offset, p.maxOff)
	out := make([]string, 0, avail)
	for _, l := range all[p.offset:] {
		out = append(out, " "+l)
	}
	right := ""
	if p.maxOff > 0 {
		right = st.Faint.Render(fmt.Sprintf("%d%%", 100*p.offset/p.maxOff))
	}
	return titled(c, c.T("debrief")+" · "+p.title, right, out, p.w, p.h)
}

// helpPane is the ? screen: every key, grouped.
type helpPane struct {
	noKeys
	c    *common
	w, h int
	keys help.KeyMap
	help help.Model
}

func (p *helpPane) SetSize(w, h int)       { p.w, p.h = w, h }
func (p *helpPane) Update(tea.Msg) tea.Cmd { return nil }
func (p *helpPane) View() string           { return strings.Join(p.lines(), "\n") }

func (p *helpPane) lines() []string {
	c := p.c
	groups := p.keys.FullHelp()
	h := p.help
	h.SetWidth(0)
	// as many groups a row as fit the width; rows apart by a blank line
	// while they fit the height, packed when they do not
	var rows [][]string
	for n := len(groups); n >= 1; n-- {
		rows = rows[:0]
		fits := true
		for i := 0; i < len(groups); i += n {
			lines := strings.Split(h.FullHelpView(groups[i:min(i+n, len(groups))]), "\n")
			if ansi.StringWidth(lines[0]) > p.w-2 && n > 1 {
				fits = false
				break
			}
			rows = append(rows, lines)
		}
		if fits {
			break
		}
	}
	var packed, spaced []string
	for i, r := range rows {
		if i > 0 {
			spaced = append(spaced, "")
		}
		packed, spaced = append(packed, r...), append(spaced, r...)
	}
	out := spaced
	if len(spaced)+2 > p.h-1 {
		out = packed
	}
	for i := range out {
		out[i] = " " + out[i]
	}
	// the way out stays on screen, whatever the height
	if room := p.h - 3; room > 0 && len(out) > room {
		out = out[:room]
	}
	out = append(out, "", " "+c.styles.Muted.Render(c.T("help_close")))
	return titled(c, c.T("help"), "", out, p.w, p.h)
}
