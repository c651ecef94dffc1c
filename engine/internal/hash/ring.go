package hash

import (
	"sort"
	"strconv"
)

// Ring is consistent hashing with virtual nodes: each member owns the arcs
// of the ring that end at its points, vnodes points per member placed by
// hashing "name#i". When a member joins it takes about 1/n of the keys,
// each from the member that owned it before; the rest stay where they were.
// More virtual nodes spread the arcs, and the keys, more evenly.
type Ring struct {
	points []RingPoint // sorted by Pos
}

// RingPoint is one virtual node: its position on the ring and the index of
// the member that owns it.
type RingPoint struct {
	Pos    uint64
	Member int
}

// NewRing places vnodes points (at least 1) for each named member.
func NewRing(names []string, vnodes int) *Ring {
	vnodes = max(vnodes, 1)
	r := &Ring{points: make([]RingPoint, 0, len(names)*vnodes)}
	for m, name := range names {
		for i := 0; i < vnodes; i++ {
			r.points = append(r.points, RingPoint{Pos: Mix64(FNV1a(name + "#" + strconv.Itoa(i))), Member: m})
		}
	}
	sort.Slice(r.points, func(i, j int) bool { return r.points[i].Pos < r.points[j].Pos })
	return r
}

// Owner returns the member owning a key's hash: the first point at or
// after it, wrapping round; -1 on an empty ring.
func (r *Ring) Owner(h uint64) int {
	if len(r.points) == 0 {
		return -1
	}
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].Pos >= h })
	if i == len(r.points) {
		i = 0
	}
	return r.points[i].Member
}

// Points returns the ring's points in order (for the inspector).
func (r *Ring) Points() []RingPoint { return r.points }

// Shares returns each of n members' share of the ring, 0..1.
func (r *Ring) Shares(n int) []float64 {
	out := make([]float64, n)
	if len(r.points) == 0 {
		return out
	}
	if len(r.points) == 1 {
		out[r.points[0].Member] = 1
		return out
	}
	const full = float64(1<<63) * 2
	prev := r.points[len(r.points)-1].Pos
	for _, p := range r.points {
		out[p.Member] += float64(p.Pos-prev) / full // wraps for the first point
		prev = p.Pos
	}
	return out
}
