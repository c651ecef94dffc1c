package lab

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
)

// inspectorPane shows everything the snapshot knows about the selected
// node or link. Modelled figures say so.
type inspectorPane struct {
	noKeys
	c    *common
	w, h int
	topo *topoPane // owns the selection
}

func (p *inspectorPane) SetSize(w, h int)       { p.w, p.h = w, h }
func (p *inspectorPane) Update(tea.Msg) tea.Cmd { return nil }
func (p *inspectorPane) View() string           { return strings.Join(p.lines(), "\n") }

// prefHeight is the height the pane wants at width w.
func (p *inspectorPane) prefHeight(w int) int { return len(p.layout(p.rows(), w)) + 1 }

// spare are the rows left out first, in order, when the pane is too short
// for all: what a node's role-specific lines say matters more.
func (p *inspectorPane) spare() []string {
	c := p.c
	return []string{c.T("address"), c.T("in_flight"), c.T("detail"), c.T("requests"), c.T("role"),
		c.T("cost"), c.T("size"), c.T("queue"), c.T("workers"), c.T("errors"), c.T("rps"),
		c.T("p50") + " / " + c.T("p99")}
}

// wrapped is the rows laid out in w×h, leaving spare rows out while they
// do not fit.
func (p *inspectorPane) wrapped(w, h int) []string {
	rows := p.rows()
	out := p.layout(rows, w)
	for _, drop := range p.spare() {
		if len(out) <= h {
			break
		}
		rows = slices.DeleteFunc(rows, func(r [2]string) bool { return r[0] == drop && r[1] != "" })
		out = p.layout(rows, w)
	}
	return out
}

func (p *inspectorPane) rows() [][2]string {
	c, st := p.c, p.c.styles
	n, l := p.topo.selected()
	modelled := func(s string) string { return s + " " + st.Modelled.Render("("+c.T("modelled")+")") }
	switch {
	case n != nil:
		addr := n.Addr
		if addr == "" {
			addr = "—"
		}
		if n.Public {
			addr += " (" + c.T("public") + ")"
		} else {
			addr += " (" + c.T("private") + ")"
		}
		rows := [][2]string{
			{c.T("role"), c.roleLabel(n.Role)},
			{c.T("state"), st.State(n.State).Render(stateSymbol(n.State) + " " + c.T(string(n.State)))},
		}
		// what the role knows comes first: in a short pane the lesson's
		// figures (lag, the lost writes' ids) stay in view before the counters
		if !n.Detail.Empty() {
			rows = append(rows, [2]string{c.T("detail"), c.say(n.Detail)})
		}
		for _, line := range n.Lines { // role-specific lines
			label := c.say(line.Label)
			if line.Item {
				label = "  " + label
			}
			rows = append(rows, [2]string{label, c.say(line.Value)})
		}
		rows = append(rows, [2]string{c.T("address"), addr})
		if n.Workers > 0 {
			rows = append(rows, [2]string{c.T("workers"), modelled(fmt.Sprintf("%d", n.Workers))})
			rows = append(rows, [2]string{c.T("queue"), fmt.Sprintf("%d / %d", n.Queued, n.QueueCap)})
		}
		rows = append(rows,
			[2]string{c.T("in_flight"), fmt.Sprintf("%d", n.InFlight)},
			[2]string{c.T("requests"), fmtNum(float64(n.Requests))},
			[2]string{c.T("errors"), errText(st, n.Errors)},
			[2]string{c.T("rps"), fmtRate(n.RPS)},
			[2]string{c.T("p50") + " / " + c.T("p99"), fmtLatency(n.P50) + " / " + fmtLatency(n.P99)},
		)
		if n.Latency > 0 {
			rows = append(rows, [2]string{c.T("injected"), st.Warn.Render("+" + fmtMs(n.Latency))})
		}
		if n.Size != "" {
			rows = append(rows, [2]string{c.T("size"), modelled(c.valueLabel(n.Size))})
		}
		if n.CostHour > 0 {
			rows = append(rows, [2]string{c.T("cost"), modelled(fmt.Sprintf("$%.2f", n.CostHour))})
		}
		return rows
	case l != nil:
		state := st.OK.Render("● " + c.T("up"))
		if !l.Up {
			state = st.Bad.Render("✗ " + c.T("down"))
		}
		rows := [][2]string{
			{c.T("link"), l.From + " → " + l.To},
			{c.T("state"), state},
			{c.T("rps"), fmtRate(l.RPS)},
		}
		if l.Latency > 0 {
			rows = append(rows, [2]string{c.T("injected"), st.Warn.Render("+" + fmtMs(l.Latency))})
		}
		return rows
	}
	return [][2]string{{c.T("selected"), c.T("none")}}
}

func errText(st *Styles, n int64) string {
	if n == 0 {
		return "0"
	}
	return st.Bad.Render(fmtNum(float64(n)))
}

// layout lays rows out at width w: labels in a column, values wrapped
// beside them (never cut: a list of lost write ids is read whole).
func (p *inspectorPane) layout(rows [][2]string, w int) []string {
	st := p.c.styles
	// labels share a column; one too long for it goes above its value
	limit := max(w*2/5, 8)
	lw := 0
	for _, r := range rows {
		if r[1] != "" && ansi.StringWidth(r[0]) <= limit { // a line with no value (a list's heading or item) is drawn whole
			lw = max(lw, ansi.StringWidth(r[0]))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if r[1] == "" {
			out = append(out, wrapStyled(r[0], w, "  ")...)
			continue
		}
		if ansi.StringWidth(r[0]) > lw {
			out = append(out, wrapStyled(st.Muted.Render(r[0]), w, "  ")...)
			for _, l := range wrapStyled(r[1], w-2, "") {
				out = append(out, "  "+l)
			}
			continue
		}
		label := st.Muted.Render(padRight(r[0], lw)) + "  "
		for i, l := range wrapStyled(r[1], max(w-lw-2, 8), "") {
			if i > 0 {
				label = strings.Repeat(" ", lw+2)
			}
			out = append(out, label+l)
		}
	}
	return out
}

// wrapStyled wraps styled text to w cells, at spaces where it can (not at
// hyphens: "web-1" and "u12-p3" stay whole); lines after the first start
// with indent.
func wrapStyled(s string, w int, indent string) []string {
	const nbHyphen = "\u2011"
	s = strings.ReplaceAll(s, "-", nbHyphen)
	lines := strings.Split(ansi.Wrap(s, max(w, 1), ""), "\n")
	for i := range lines {
		lines[i] = strings.ReplaceAll(lines[i], nbHyphen, "-")
	}
	for i := 1; i < len(lines); i++ {
		if ansi.StringWidth(indent)+ansi.StringWidth(lines[i]) <= w {
			lines[i] = indent + lines[i]
		}
	}
	return lines
}

func (p *inspectorPane) lines() []string {
	c, st := p.c, p.c.styles
	title := c.T("inspector")
	if p.topo.sel != "" {
		title += " · " + p.topo.sel
	}
	return titled(c, title, st.Faint.Render("i"), p.wrapped(p.w, p.h-1), p.w, p.h)
}

// selectedState is what the keys need to know of the selection.
func selectedState(n *engine.NodeSnap) (up, down bool) {
	if n == nil {
		return false, false
	}
	switch n.State {
	case engine.StateUp, engine.StateSaturated, engine.StateDraining:
		return true, false
	case engine.StateDown:
		return false, true
	}
	return false, false
}
