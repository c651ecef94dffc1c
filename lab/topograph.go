package lab

import (
	"sort"

	"scalelab/engine"
)

// graph is the snapshot arranged in tiers.
type graph struct {
	nodes []engine.NodeSnap
	cols  [][]int // node indices per tier
	layer []int
	links []engine.LinkSnap // between neighbouring tiers
	extra []engine.LinkSnap // any other link, listed as text
	index map[string]int
}

func (p *topoPane) graph() *graph {
	s := p.snap
	g := &graph{nodes: s.Nodes, index: map[string]int{}, layer: make([]int, len(s.Nodes))}
	ranks := map[int]bool{}
	for i, n := range s.Nodes {
		g.index[n.Name] = i
		g.layer[i] = n.Layer.Rank()
		ranks[g.layer[i]] = true
	}
	order := make([]int, 0, len(ranks))
	for r := range ranks {
		order = append(order, r)
	}
	sort.Ints(order)
	dense := map[int]int{}
	for i, r := range order {
		dense[r] = i
	}
	g.cols = make([][]int, len(order))
	for i := range g.layer {
		g.layer[i] = dense[g.layer[i]]
		g.cols[g.layer[i]] = append(g.cols[g.layer[i]], i)
	}
	// a tier keeps a role's nodes together, in the order the roles came:
	// a replica added later stands with the databases, above the monitor
	first := map[engine.Role]int{}
	for i, n := range s.Nodes {
		if _, ok := first[n.Role]; !ok {
			first[n.Role] = i
		}
	}
	for _, col := range g.cols {
		sort.SliceStable(col, func(a, b int) bool { return first[s.Nodes[col[a]].Role] < first[s.Nodes[col[b]].Role] })
	}
	called := map[string]bool{}
	for _, l := range s.Links {
		called[l.To] = true
	}
	for _, l := range s.Links {
		f, ok1 := g.index[l.From]
		t, ok2 := g.index[l.To]
		switch {
		case ok1 && ok2 && g.layer[t] == g.layer[f]+1:
			g.links = append(g.links, l)
		case ok1 && g.layer[f] > 0 && !called[l.From] && l.ID() != p.sel && l.Latency == 0:
			// a link from a node no request reaches (a failover monitor's
			// heartbeats) is not on the path: listed only when selected or
			// slowed; tab still reaches it
		default:
			g.extra = append(g.extra, l)
		}
	}
	return g
}

// size is the diagram's size in a mode with gap columns between tiers.
func (g *graph) size(p *topoPane, m topoMode, gap int) (w, h int) {
	for i, col := range g.cols {
		cw, ch := 0, 0
		for _, ni := range col {
			nw, nh := p.nodeSize(g.nodes[ni], m)
			cw, ch = max(cw, nw), ch+nh
		}
		w += cw
		if i > 0 {
			w += gap
		}
		h = max(h, ch)
	}
	return w, h
}
