package lab

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
)

// seg is a run of text on the canvas in one style.
type seg struct {
	s  string
	st int
}

func segsText(ss []seg) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s.s)
	}
	return b.String()
}

func segsWidth(ss []seg) int { return ansi.StringWidth(segsText(ss)) }

// badge is the node's role word (a database's primary or replica) in the
// UI's language, "" when it has none.
func (p *topoPane) badge(n engine.NodeSnap) string {
	if n.Badge == "" {
		return ""
	}
	return p.c.TOr("badge."+labelKey(n.Badge), n.Badge)
}

// nameSegs is the node's name and badge.
func (p *topoPane) nameSegs(n engine.NodeSnap) []seg {
	nameSt := tsText
	if n.Name == p.sel {
		nameSt = tsSel
	}
	out := []seg{{n.Name, nameSt}}
	if b := p.badge(n); b != "" {
		out = append(out, seg{" " + b, tsAccent})
	}
	return out
}

// rateSegs is the node's rate in a mode and the latency injected on it.
func (p *topoPane) rateSegs(n engine.NodeSnap, m topoMode) []seg {
	var out []seg
	switch m.rps {
	case 1:
		out = append(out, seg{" " + fmtRate(n.RPS), tsMuted})
	case 2:
		out = append(out, seg{" " + fmtRate(n.RPS) + p.c.unitLabel("/s"), tsMuted})
	}
	if n.Latency > 0 {
		out = append(out, seg{" +" + fmtMs(n.Latency), tsWarn})
	}
	return out
}

// labelSegs is a node's one-line text in a mode: "● db-2 primary 82/s +50ms".
func (p *topoPane) labelSegs(n engine.NodeSnap, m topoMode) []seg {
	out := []seg{{stateSymbol(n.State) + " ", stateStyleIdx(n.State)}}
	out = append(out, p.nameSegs(n)...)
	return append(out, p.rateSegs(n, m)...)
}

// label is a node's one-line text in a mode.
func (p *topoPane) label(n engine.NodeSnap, m topoMode) string {
	return segsText(p.labelSegs(n, m))
}

// boxLines are the three lines of a node's big box: name and badge, state,
// rate and injected latency.
func (p *topoPane) boxLines(n engine.NodeSnap) [3][]seg {
	ss := stateStyleIdx(n.State)
	rate := append([]seg{{fmtRate(n.RPS) + " " + p.c.T("rps"), tsMuted}}, p.rateSegs(n, topoMode{})...)
	return [3][]seg{
		p.nameSegs(n),
		{{stateSymbol(n.State) + " " + p.c.T(string(n.State)), ss}},
		rate,
	}
}

// nodeSize is a node's drawn size in a mode.
func (p *topoPane) nodeSize(n engine.NodeSnap, m topoMode) (w, h int) {
	if m.boxed && m.lines == 3 {
		iw := 0
		for _, l := range p.boxLines(n) {
			iw = max(iw, segsWidth(l))
		}
		return iw + 4, 5
	}
	lw := ansi.StringWidth(p.label(n, m))
	if m.boxed {
		return lw + 4, 3
	}
	return lw + 2, 1
}

func (p *topoPane) drawNode(cv *canvas, n engine.NodeSnap, r rect, m topoMode) {
	sel := n.Name == p.sel
	bst := stateStyleIdx(n.State)
	if sel {
		bst = tsSel
	}
	write := func(x, y int, ss []seg) int {
		for _, s := range ss {
			x += cv.text(x, y, s.s, s.st)
		}
		return x
	}
	if !m.boxed {
		open, closeB := "[", "]"
		if sel {
			open, closeB = "»", "«"
		}
		x := r.x + cv.text(r.x, r.y, open, bst)
		x = write(x, r.y, p.labelSegs(n, m))
		cv.text(x, r.y, closeB, bst)
		return
	}
	cv.box(r.x, r.y, r.w, r.h, sel, bst)
	if m.lines == 3 {
		for i, l := range p.boxLines(n) {
			write(r.x+2, r.y+1+i, l)
		}
		return
	}
	write(r.x+2, r.y+1, p.labelSegs(n, m))
}

// linkLine is a link drawn as text: "db-1 ⇢ db-2 ● 40/s".
func (p *topoPane) linkLine(l engine.LinkSnap) string {
	st := p.c.styles
	state := st.OK.Render("●")
	if !l.Up {
		state = st.Bad.Render("✗ " + p.c.T("down"))
	}
	s := fmt.Sprintf(" %s ⇢ %s %s %s", l.From, l.To, state, fmtRate(l.RPS)+p.c.unitLabel("/s"))
	if l.Latency > 0 {
		s += st.Warn.Render(" +" + fmtMs(l.Latency))
	}
	if l.ID() == p.sel {
		return st.Selected.Render("»") + s
	}
	return " " + s
}

// list is the fallback when no diagram fits: one line per node, by tier.
func (p *topoPane) list(g *graph, w int) []string {
	st := p.c.styles
	var out []string
	for ci, col := range g.cols {
		for _, ni := range col {
			n := g.nodes[ni]
			mark := "  "
			if n.Name == p.sel {
				mark = st.Selected.Render("» ")
			}
			line := mark + strings.Repeat("→", min(ci, 1)) + strings.Repeat(" ", ci) +
				st.State(n.State).Render(stateSymbol(n.State)+" "+p.c.T(string(n.State))) + " " + n.Name
			if b := p.badge(n); b != "" {
				line += " " + st.Accent.Render(b)
			}
			line += " " + st.Muted.Render(fmtRate(n.RPS)+p.c.unitLabel("/s"))
			if n.Latency > 0 {
				line += " " + st.Warn.Render("+"+fmtMs(n.Latency))
			}
			out = append(out, fitLine(line, w))
		}
	}
	for _, l := range g.links {
		if !l.Up || l.ID() == p.sel || l.Latency > 0 {
			out = append(out, p.linkLine(l))
		}
	}
	for _, l := range g.extra {
		out = append(out, p.linkLine(l))
	}
	return out
}
