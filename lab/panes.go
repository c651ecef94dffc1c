package lab

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
)

// pane is the contract every part of the screen keeps: it takes messages,
// draws itself as a string at the size it was given, and names its keys.
// Only the root model returns a tea.View.
type pane interface {
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
}

// noKeys is embedded by panes without keys of their own.
type noKeys struct{}

func (noKeys) ShortHelp() []key.Binding  { return nil }
func (noKeys) FullHelp() [][]key.Binding { return nil }

// headerPane is the top line: where the learner is and how the lab runs.
type headerPane struct {
	noKeys
	c              *common
	w              int
	chapter, step  string // "3/11 The load balancer", "1/3 Balancing policies"
	snap           *engine.Snapshot
	starting       string // spinner and word while a step starts
	debrief        bool
	modelledOnShow bool
}

func (p *headerPane) SetSize(w, _ int) { p.w = w }
func (p *headerPane) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(snapshotMsg); ok {
		p.snap = &m.snap
		p.modelledOnShow = hasModelled(&m.snap)
	}
	return nil
}

func hasModelled(s *engine.Snapshot) bool {
	for _, g := range s.Gauges {
		if g.Modelled {
			return true
		}
	}
	for _, n := range s.Nodes {
		if n.Size != "" || n.CostHour > 0 {
			return true
		}
	}
	return false
}

func (p *headerPane) View() string {
	c, st := p.c, p.c.styles
	sep := st.Faint.Render(" · ")
	brand := st.Title.Render("scalelab") + sep
	left := st.Bold.Render(p.chapter)
	if p.step != "" {
		left += sep + st.Text.Render(p.step)
	}
	// the right side: lab time, pause state and rate always show; when the
	// line is short the title gives way first, then the speed, and the
	// modelled tag only when even that is not enough
	var right []string
	speed, modelled := -1, -1
	switch {
	case p.starting != "":
		right = append(right, st.Muted.Render(p.starting))
	case p.snap != nil && !p.debrief:
		s := p.snap
		right = append(right, st.Text.Render("⏱ "+fmtLabTime(s.T)))
		speed = len(right)
		right = append(right, st.Muted.Render(fmt.Sprintf("%g×", s.Speed)))
		if s.Paused {
			right = append(right, st.Warn.Render("‖ "+c.T("paused")))
		} else {
			right = append(right, st.OK.Render("▶"))
		}
		rate := fmtRate(s.Rate) + " " + c.T("rps")
		if s.SpikeLeft > 0 {
			rate += st.Warn.Render(fmt.Sprintf(" %s %.0f× %.0fs", c.T("spike"), s.Rate/max(s.BaseRate, 1), s.SpikeLeft.Seconds()))
		}
		right = append(right, st.Info.Render(rate))
		if p.modelledOnShow {
			modelled = len(right)
			right = append(right, st.Modelled.Render("~ "+c.T("modelled")))
		}
	}
	// minLeft is the least of the title worth showing: the name, the
	// chapter's number and a few cells of its title
	minLeft := ansi.StringWidth(brand) + 8
	fits := func(r []string) bool {
		return min(ansi.StringWidth(left), minLeft)+1+ansi.StringWidth(strings.Join(r, sep)) <= p.w
	}
	if speed >= 0 && !fits(right) {
		right = append(right[:speed:speed], right[speed+1:]...)
		if modelled > speed {
			modelled--
		}
	}
	if modelled >= 0 && !fits(right) {
		right = append(right[:modelled:modelled], right[modelled+1:]...)
	}
	r := strings.Join(right, sep)
	left = brand + left
	if room := p.w - ansi.StringWidth(r) - 1; ansi.StringWidth(left) > room {
		left = ansi.Truncate(left, max(room, minLeft), "…")
	}
	gapW := max(p.w-ansi.StringWidth(left)-ansi.StringWidth(r), 1)
	return fitLine(left+strings.Repeat(" ", gapW)+r, p.w)
}

// statsPane lists the chapter's gauges and knobs.
type statsPane struct {
	noKeys
	c        *common
	w, h     int
	snap     *engine.Snapshot
	knobKeys map[string]string // knob name → the key that cycles it
	hide     func(gauge string) bool
}

func (p *statsPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *statsPane) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(snapshotMsg); ok {
		p.snap = &m.snap
	}
	return nil
}

// rows is how many lines the pane has to show (hidden gauges take none).
func (p *statsPane) rows() int {
	if p.snap == nil {
		return 0
	}
	n := len(p.snap.Knobs)
	for _, g := range p.snap.Gauges {
		if p.hide == nil || !p.hide(g.Name) {
			n++
		}
	}
	return n
}

func (p *statsPane) View() string { return strings.Join(p.lines(), "\n") }

func (p *statsPane) lines() []string {
	c, st := p.c, p.c.styles
	// knobs this step has keys for, then the measured gauges, then the
	// other knobs: when room is short, what the learner acts on and what
	// they measure stay on screen
	var rows, others [][2]string
	if p.snap != nil {
		for _, k := range p.snap.Knobs {
			label := c.knobLabel(k.Name)
			row := [2]string{label, st.Accent.Render(c.valueLabel(k.Value))}
			if key := p.knobKeys[k.Name]; key != "" {
				row[0] = st.Key.Render("["+key+"]") + " " + label
				rows = append(rows, row)
			} else {
				others = append(others, row)
			}
		}
		for _, g := range p.snap.Gauges {
			if p.hide != nil && p.hide(g.Name) {
				continue
			}
			v := fmtNum(g.Value)
			if g.Unit == "$/h" {
				v = fmt.Sprintf("%.2f", g.Value)
			}
			val := st.Text.Render(c.withUnit(v, g.Unit))
			if g.None {
				val = st.Muted.Render("—")
			}
			if g.Modelled {
				val += " " + st.Modelled.Render("("+c.T("modelled")+")")
			}
			rows = append(rows, [2]string{c.gaugeLabel(g.Name, p.snap.Nodes), val})
		}
		rows = append(rows, others...)
	}
	// labels take what the values leave (a cut label loses its meaning:
	// "primary reads, last 5…"), half the pane at the least
	lw, vw := 0, 0
	for _, r := range rows {
		lw = max(lw, ansi.StringWidth(r[0]))
		vw = max(vw, ansi.StringWidth(r[1]))
	}
	lw = min(lw, max(p.w/2, p.w-vw-2))
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, fitLine(padRight(ansi.Truncate(r[0], lw, "…"), lw)+"  "+r[1], p.w))
	}
	title := c.T("knobs") + " · " + c.T("gauges")
	return titled(c, title, "", out, p.w, p.h)
}

// eventsPane is the event log, newest last.
type eventsPane struct {
	noKeys
	c    *common
	w, h int
	snap *engine.Snapshot
}

func (p *eventsPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *eventsPane) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(snapshotMsg); ok {
		p.snap = &m.snap
	}
	return nil
}

func (p *eventsPane) View() string { return strings.Join(p.lines(), "\n") }

func (p *eventsPane) lines() []string {
	c, st := p.c, p.c.styles
	n := p.h - 1
	var out []string
	if p.snap != nil && n > 0 {
		evs := p.snap.Events
		if len(evs) > n {
			evs = evs[len(evs)-n:]
		}
		// columns as wide as what they show (cells, so Korean lines up)
		kw, nw := 0, 0
		for _, e := range evs {
			kw = max(kw, ansi.StringWidth(c.eventLabel(string(e.Kind))))
			nw = max(nw, ansi.StringWidth(e.Node))
		}
		kw, nw = min(kw, 12), min(nw, 12)
		col := func(s string, w int) string { return padRight(ansi.Truncate(s, w, "…"), w) }
		for _, e := range evs {
			kind := c.eventLabel(string(e.Kind))
			detail := e.Detail
			if !e.Text.Empty() {
				detail = engine.OneLine(c.say(e.Text))
			}
			ks := st.Muted
			switch e.Tone {
			case engine.ToneBad:
				ks = st.Bad
			case engine.ToneGood:
				ks = st.OK
			case engine.ToneWarn:
				ks = st.Warn
			case engine.ToneInfo:
				ks = st.Info
			}
			line := st.Faint.Render(fmt.Sprintf("%6.1fs ", e.T.Seconds())) +
				ks.Render(col(kind, kw)) + " " + st.Bold.Render(col(e.Node, nw)) + " " + st.Text.Render(detail)
			out = append(out, fitLine(line, p.w))
		}
	}
	right := ""
	if p.snap != nil && p.snap.NEvent > 0 {
		right = st.Faint.Render(fmt.Sprintf("%d", p.snap.NEvent))
	}
	return titled(c, c.T("events"), right, out, p.w, p.h)
}
