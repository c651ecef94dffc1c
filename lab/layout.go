package lab

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

// MinWidth and MinHeight are the smallest terminal the lab draws in.
const (
	MinWidth  = 80
	MinHeight = 24
)

// liner is a pane drawn as lines of exactly its size.
type liner interface{ lines() []string }

// slot is a pane in a column, with its height.
type slot struct {
	p liner
	h int
}

// column is a stack of panes, w wide.
type column struct {
	w     int
	slots []slot
}

// layout decides the columns for the current size and state and gives
// every pane its size. At 80×24 the lesson sits beside a stack of the
// diagram, the charts, the knobs and the events; from about 140×36 the
// lesson, the diagram and charts, and the knobs, inspector and events
// each get a column.
func (m *model) layout() {
	w, h := m.c.width, m.c.height
	m.cols = m.cols[:0]
	if w < MinWidth || h < MinHeight {
		return
	}
	m.header.SetSize(w, 1)
	m.help.SetWidth(w)
	b := h - 3 // header, status and help lines
	switch {
	case m.showHelp:
		m.helpP.keys = allEnabled(m.c.keys)
		m.helpP.SetSize(w, b)
		m.cols = append(m.cols, column{w, []slot{{m.helpP, b}}})
		return
	case m.mode == modeDebrief:
		m.debrief.SetSize(w, b)
		m.cols = append(m.cols, column{w, []slot{{m.debrief, b}}})
		return
	}
	inspect := m.showInspector
	stats := m.stats.rows()
	if w >= 140 && h >= 36 {
		lw := w * 30 / 100
		mw := w * 40 / 100
		rw := w - lw - mw - 2
		topo := min(max(m.topo.prefHeight(mw), 6), b*55/100)
		right := stack(b, []int{
			pick(inspect, min(m.inspector.prefHeight(rw), b/2)),
			pick(stats > 0, min(stats+1, b/3)),
		})
		m.cols = append(m.cols,
			column{lw, []slot{{m.lessonP, b}}},
			column{mw, []slot{{m.topo, topo}, {m.charts, b - topo}}},
			column{rw, []slot{{m.inspector, right[0]}, {m.stats, right[1]}, {m.events, right[2]}}},
		)
	} else {
		lw := min(max(w*44/100, 34), 64)
		rw := w - lw - 1
		left := stack(b, []int{pick(inspect, min(m.inspector.prefHeight(lw), b/2))})
		topo := min(max(m.topo.prefHeight(rw), 4), max(b*40/100, 6))
		charts := min(max(b*30/100, 5), 14)
		// the knobs and gauges a step's text names get a third more rows
		// than a quarter; the events keep a line at the least
		st := pick(stats > 0, min(stats+1, max(b*2/7, 3)))
		if ev := b - topo - charts - st; ev < 3 {
			charts = max(charts-(3-ev), 5)
		}
		if ev := b - topo - charts - st; ev < 2 {
			st = max(st-(2-ev), 3)
		}
		m.cols = append(m.cols,
			column{lw, []slot{{m.inspector, left[0]}, {m.lessonP, left[1]}}},
			column{rw, []slot{{m.topo, topo}, {m.charts, charts}, {m.stats, st}, {m.events, b - topo - charts - st}}},
		)
	}
	for _, c := range m.cols {
		for _, s := range c.slots {
			if p, ok := s.p.(interface{ SetSize(w, h int) }); ok {
				p.SetSize(c.w, s.h)
			}
		}
	}
}

func pick(on bool, h int) int {
	if on {
		return max(h, 0)
	}
	return 0
}

// stack returns the given heights and, last, what is left of total.
func stack(total int, hs []int) []int {
	left := total
	for _, h := range hs {
		left -= h
	}
	return append(hs, max(left, 0))
}

// allEnabled is a copy of the keys with every key shown, for the ? screen.
func allEnabled(k *KeyMap) *KeyMap {
	c := *k
	c.Step = append([]StepKey(nil), k.Step...)
	for _, b := range []*key.Binding{&c.Select, &c.SelectPrev, &c.Kill, &c.Restart, &c.Latency,
		&c.LoadUp, &c.LoadDown, &c.Spike, &c.Pause, &c.Slower, &c.Faster,
		&c.NextStep, &c.PrevStep, &c.NextChapter, &c.PrevChapter, &c.Inspect, &c.Hint, &c.Help, &c.Quit,
		&c.ScrollUp, &c.ScrollDown, &c.PageUp, &c.PageDown, &c.Choose, &c.Digit, &c.Enter, &c.Erase, &c.Skip} {
		b.SetEnabled(true)
	}
	for i := range c.Step {
		c.Step[i].Binding.SetEnabled(true)
	}
	return &c
}

// render draws the whole screen.
func (m *model) render() string {
	w, h := m.c.width, m.c.height
	if w < MinWidth || h < MinHeight {
		return m.tooSmall()
	}
	out := make([]string, 0, h)
	out = append(out, m.header.View())
	cols := make([][]string, 0, len(m.cols))
	for _, c := range m.cols {
		var lines []string
		for _, s := range c.slots {
			if s.h > 0 {
				lines = append(lines, s.p.lines()...)
			}
		}
		cols = append(cols, fit(lines, c.w, h-3))
	}
	out = append(out, hjoin(m.c.styles.Sep.Render("│"), cols...)...)
	out = append(out, m.statusLine(), fitLine(m.help.ShortHelpView(m.c.keys.ShortHelp()), w))
	return strings.Join(out, "\n")
}

func (m *model) statusLine() string {
	st := m.c.styles
	w := m.c.width
	switch {
	case m.status != "" && m.statusErr:
		return fitLine(st.StatusErr.Render(m.status), w)
	case m.status != "":
		return fitLine(st.Status.Render(m.status), w)
	}
	// objectives met: the lesson pane says so, and where n goes next
	return strings.Repeat(" ", w)
}

// tooSmall is the message drawn instead of a squeezed screen.
func (m *model) tooSmall() string {
	w, h := m.c.width, m.c.height
	msg := m.c.Tf("too_small", MinWidth, MinHeight, w, h)
	lines := wrapText(msg, max(w-2, 10))
	out := make([]string, 0, h)
	top := max((h-len(lines))/2, 0)
	for i := 0; i < top; i++ {
		out = append(out, "")
	}
	for _, l := range lines {
		pad := max((w-ansi.StringWidth(l))/2, 0)
		out = append(out, strings.Repeat(" ", pad)+m.c.styles.Warn.Render(l))
	}
	return strings.Join(out, "\n")
}
