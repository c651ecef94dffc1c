package lab

import (
	"fmt"
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

// prefHeight is the height the pane wants.
func (p *inspectorPane) prefHeight() int { return len(p.rows()) + 1 }

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
			{c.T("address"), addr},
		}
		if n.Workers > 0 {
			rows = append(rows, [2]string{c.T("workers"), modelled(fmt.Sprintf("%d", n.Workers))})
			rows = append(rows, [2]string{c.T("queue"), fmt.Sprintf("%d / %d", n.Queued, n.QueueCap)})
		}
		rows = append(rows,
			[2]string{c.T("in_flight"), fmt.Sprintf("%d", n.InFlight)},
			[2]string{c.T("requests"), fmtNum(float64(n.Requests))},
			[2]string{c.T("errors"), errText(st, n.Errors)},
			[2]string{c.T("rps"), fmtRate(n.RPS)},
			[2]string{c.T("p50") + " / " + c.T("p99"), fmtMs(n.P50) + " / " + fmtMs(n.P99)},
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
		if n.Detail != "" {
			rows = append(rows, [2]string{c.T("detail"), n.Detail})
		}
		for _, line := range n.Lines { // role-specific "label: value" lines
			label, value, _ := strings.Cut(line, ": ")
			rows = append(rows, [2]string{label, value})
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

func (p *inspectorPane) lines() []string {
	c, st := p.c, p.c.styles
	rows := p.rows()
	lw := 0
	for _, r := range rows {
		if r[1] != "" { // a line with no value (a list's heading or item) is drawn whole
			lw = max(lw, ansi.StringWidth(r[0]))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if r[1] == "" {
			out = append(out, fitLine(r[0], p.w))
			continue
		}
		out = append(out, fitLine(st.Muted.Render(padRight(r[0], lw))+"  "+r[1], p.w))
	}
	title := c.T("inspector")
	if p.topo.sel != "" {
		title += " · " + p.topo.sel
	}
	return titled(c, title, st.Faint.Render("i"), out, p.w, p.h)
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
