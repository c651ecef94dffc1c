package lab

import (
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"scalelab/engine"
)

// topoPane draws the nodes by tier, left to right (entry → web → data),
// with the links between tiers, and owns the selection (a node name or a
// link id "from>to").
type topoPane struct {
	c       *common
	w, h    int
	snap    *engine.Snapshot
	sel     string
	kept    bool   // sel was preselected by the step; the first tab keeps it
	waiting string // shown instead of the diagram while a step starts
}

func newTopoPane(c *common) *topoPane { return &topoPane{c: c} }

func (p *topoPane) SetSize(w, h int) { p.w, p.h = w, h }

func (p *topoPane) ShortHelp() []key.Binding { return []key.Binding{p.c.keys.Select} }
func (p *topoPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.c.keys.Select, p.c.keys.SelectPrev}}
}

func (p *topoPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case snapshotMsg:
		p.snap = &msg.snap
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, p.c.keys.Select):
			p.cycle(1)
		case key.Matches(msg, p.c.keys.SelectPrev):
			p.cycle(-1)
		}
	}
	return nil
}

// items are what tab cycles through, in the diagram's order: nodes by tier
// (entry → web → data) and, within a tier, top to bottom; then the links
// in the order of the nodes they join.
func (p *topoPane) items() []string {
	if p.snap == nil {
		return nil
	}
	g := p.graph()
	out := make([]string, 0, len(p.snap.Nodes)+len(p.snap.Links))
	pos := make(map[string]int, len(g.nodes))
	for _, col := range g.cols {
		for _, ni := range col {
			pos[g.nodes[ni].Name] = len(out)
			out = append(out, g.nodes[ni].Name)
		}
	}
	links := append([]engine.LinkSnap(nil), p.snap.Links...)
	sort.SliceStable(links, func(a, b int) bool {
		la, lb := links[a], links[b]
		if pos[la.From] != pos[lb.From] {
			return pos[la.From] < pos[lb.From]
		}
		return pos[la.To] < pos[lb.To]
	})
	for _, l := range links {
		out = append(out, l.ID())
	}
	return out
}

// preselect selects the node a step names. Until the learner moves the
// selection, the first tab keeps it: a text that says "select cache-1 with
// tab, then x" still does what it says.
func (p *topoPane) preselect(name string) { p.sel, p.kept = name, name != "" }

func (p *topoPane) cycle(d int) {
	if p.kept && d > 0 {
		if n, _ := p.selected(); n != nil {
			p.kept = false
			return
		}
	}
	p.kept = false
	items := p.items()
	if len(items) == 0 {
		return
	}
	i := -1
	for k, it := range items {
		if it == p.sel {
			i = k
		}
	}
	switch {
	case i < 0 && d > 0:
		i = 0
	case i < 0:
		i = len(items) - 1
	default:
		i = (i + d + len(items)) % len(items)
	}
	p.sel = items[i]
}

// selected returns the selected node or link in the latest snapshot.
func (p *topoPane) selected() (*engine.NodeSnap, *engine.LinkSnap) {
	if p.snap == nil || p.sel == "" {
		return nil, nil
	}
	for i := range p.snap.Nodes {
		if p.snap.Nodes[i].Name == p.sel {
			return &p.snap.Nodes[i], nil
		}
	}
	for i := range p.snap.Links {
		if p.snap.Links[i].ID() == p.sel {
			return nil, &p.snap.Links[i]
		}
	}
	return nil, nil
}

// reset clears the diagram for a new step.
func (p *topoPane) reset() { p.snap, p.sel, p.kept = nil, "", false }

// The diagram's modes, richest first; the first that fits is drawn.
type topoMode struct {
	boxed bool
	lines int // content lines of a boxed node
	rps   int // 0 none, 1 "82", 2 "82/s"
}

var topoModes = []topoMode{{true, 3, 2}, {true, 1, 2}, {false, 1, 2}, {false, 1, 1}, {false, 1, 0}}

// style indices on the topology canvas
const (
	tsText = iota
	tsMuted
	tsFaint
	tsSel
	tsBad
	tsWarn
	tsUp
	tsDown
	tsRestarting
	tsSaturated
	tsDraining
	tsAccent
)

func (p *topoPane) canvasStyles() []style {
	st := p.c.styles
	return []style{st.Text, st.Muted, st.Faint, st.SelectedBox, st.Bad, st.Warn,
		st.State(engine.StateUp), st.State(engine.StateDown), st.State(engine.StateRestarting),
		st.State(engine.StateSaturated), st.State(engine.StateDraining), st.Accent}
}

func stateStyleIdx(s engine.State) int {
	switch s {
	case engine.StateUp:
		return tsUp
	case engine.StateDown:
		return tsDown
	case engine.StateRestarting:
		return tsRestarting
	case engine.StateSaturated:
		return tsSaturated
	case engine.StateDraining:
		return tsDraining
	}
	return tsMuted
}

func (p *topoPane) View() string { return strings.Join(p.lines(), "\n") }

func (p *topoPane) title() string {
	t := p.c.T("nodes")
	if n, l := p.selected(); n != nil || l != nil {
		t += " · " + p.sel
	}
	return t
}

func (p *topoPane) lines() []string {
	c := p.c
	if p.snap == nil || len(p.snap.Nodes) == 0 {
		body := []string{"", "  " + p.waiting}
		return titled(c, c.T("nodes"), "", body, p.w, p.h)
	}
	body, m := p.diagram(p.w, p.h-1)
	right := ""
	if m.rps == 1 { // bare figures on the nodes: the title says what they are
		right = c.styles.Faint.Render(c.unitLabel("req/s"))
	}
	return titled(c, p.title(), right, body, p.w, p.h)
}

// prefHeight is the height (with the title) the richest diagram that fits
// in width w needs.
func (p *topoPane) prefHeight(w int) int {
	if p.snap == nil || len(p.snap.Nodes) == 0 {
		return 4
	}
	g := p.graph()
	for _, m := range topoModes {
		if lw, lh := g.size(p, m, 3); lw <= w {
			if m.lines != 3 {
				lh++ // the legend
			}
			return lh + 1 + len(g.extra)
		}
	}
	return len(p.snap.Nodes) + 1
}

// diagram draws the richest mode that fits w×h, and says which.
func (p *topoPane) diagram(w, h int) ([]string, topoMode) {
	g := p.graph()
	for _, m := range topoModes {
		for _, gap := range []int{9, 7, 5, 3} {
			dw, dh := g.size(p, m, gap)
			if dw <= w && dh <= h {
				return p.draw(g, m, gap, w, h), m
			}
		}
	}
	return p.list(g, w), topoMode{rps: 2}
}

type rect struct{ x, y, w, h int }

func (p *topoPane) draw(g *graph, m topoMode, gap, w, h int) []string {
	cv := newCanvas(w, h, p.canvasStyles())
	dw, dh := g.size(p, m, gap)
	extraRows := min(len(g.extra), h-dh)
	top := max((h-extraRows-dh)/2, 0)
	left := max((w-dw)/2, 0)
	pos := make([]rect, len(g.nodes))
	colEnd := make([]int, len(g.cols)) // first column right of each tier
	x := left
	for ci, col := range g.cols {
		cw, ch := 0, 0
		for _, ni := range col {
			nw, nh := p.nodeSize(g.nodes[ni], m)
			cw, ch = max(cw, nw), ch+nh
		}
		y := top + (dh-ch)/2
		for _, ni := range col {
			nw, nh := p.nodeSize(g.nodes[ni], m)
			if m.boxed { // boxes of a tier share a width; links meet brackets
				nw = cw
			}
			pos[ni] = rect{x, y, nw, nh}
			y += nh
		}
		colEnd[ci] = x + cw
		x += cw + gap
	}
	// links: plain first, then down, then the selected one on top
	order := make([]int, len(g.links))
	for i := range order {
		order[i] = i
	}
	rank := func(l engine.LinkSnap) int {
		switch {
		case l.ID() == p.sel:
			return 2
		case !l.Up:
			return 1
		}
		return 0
	}
	sort.SliceStable(order, func(a, b int) bool { return rank(g.links[order[a]]) < rank(g.links[order[b]]) })
	outDeg, inDeg := map[string]int{}, map[string]int{}
	for _, l := range g.links {
		outDeg[l.From]++
		inDeg[l.To]++
	}
	for _, i := range order {
		l := g.links[i]
		s, t := pos[g.index[l.From]], pos[g.index[l.To]]
		sx, sy := s.x+s.w, s.y+s.h/2
		tx, ty := t.x-1, t.y+t.h/2
		bx := colEnd[g.layer[g.index[l.From]]] + gap/2 // the tiers' shared bus
		kind, sty := lineNormal, tsFaint
		if l.ID() == p.sel {
			kind, sty = lineHeavy, tsSel
		}
		cv.hline(sx, bx, sy, kind, sty)
		cv.vline(bx, sy, ty, kind, sty)
		cv.hline(bx, tx, ty, kind, sty)
		cv.conn(sx, sy, connLeft, kind, sty)
		cv.conn(tx, ty, connRight, kind, sty)
		// the part of the path only this link uses shows its state
		px0, px1, py := bx+1, tx, ty
		if inDeg[l.To] > 1 && outDeg[l.From] == 1 {
			px0, px1, py = sx, bx-1, sy
		}
		if !l.Up || l.Latency > 0 {
			pk, ps, mark := lineDashed, tsBad, '✗'
			if l.Up {
				pk, ps, mark = kind, tsWarn, '~'
			}
			if l.ID() == p.sel {
				ps = tsSel
			}
			cv.hline(px0, px1, py, pk, ps)
			cv.conn(px1, py, connRight, pk, ps)
			tag := ""
			if l.Up {
				tag = "+" + fmtMs(l.Latency) // the latency itself, where it fits
			}
			switch {
			case tag != "" && px1-px0+1 >= len(tag)+2:
				cv.text(px0+(px1-px0+1-len(tag))/2, py, tag, ps)
			case px1 >= px0:
				cv.set(px0+(px1-px0)/2, py, mark, ps)
			}
		}
	}
	for i, n := range g.nodes {
		p.drawNode(cv, n, pos[i], m)
	}
	if m.lines != 3 && top+dh < h-extraRows { // symbols only: say what they mean
		p.legend(cv, g, left, top+dh)
	}
	out := cv.lines()
	shown := extraRows
	if extraRows < len(g.extra) && extraRows > 0 {
		shown-- // the last row says how many are not listed
		out[h-1] = "   " + p.c.styles.Muted.Render(p.c.Tf("more_links", len(g.extra)-shown))
	}
	for k, l := range p.shownExtra(g.extra, shown) {
		out[h-extraRows+k] = p.linkLine(l)
	}
	return out
}

// shownExtra picks n of the listed links when not all fit: the selected
// one, then those down, then those slowed, in their own order.
func (p *topoPane) shownExtra(links []engine.LinkSnap, n int) []engine.LinkSnap {
	if n >= len(links) {
		return links
	}
	rank := func(l engine.LinkSnap) int {
		switch {
		case l.ID() == p.sel:
			return 0
		case !l.Up:
			return 1
		case l.Latency > 0:
			return 2
		}
		return 3
	}
	idx := make([]int, len(links))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank(links[idx[a]]) < rank(links[idx[b]]) })
	idx = idx[:max(n, 0)]
	sort.Ints(idx)
	out := make([]engine.LinkSnap, len(idx))
	for i, k := range idx {
		out[i] = links[k]
	}
	return out
}

// legend names the states the diagram shows, for modes without words.
func (p *topoPane) legend(cv *canvas, g *graph, x, y int) {
	seen := map[engine.State]bool{}
	for _, n := range g.nodes {
		seen[n.State] = true
	}
	for _, st := range []engine.State{engine.StateUp, engine.StateSaturated, engine.StateDraining, engine.StateRestarting, engine.StateDown} {
		if seen[st] {
			x += cv.text(x, y, stateSymbol(st)+" "+p.c.T(string(st)), stateStyleIdx(st)) + 2
		}
	}
}
