// Links between nodes and the partitions that cut them.

package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPartitioned is returned by a hop across a cut link.
var ErrPartitioned = errors.New("network partition: link is cut")

// Link is one hop of the topology. The caller of a hop calls Delay before
// sending, so injected latency is spent for real on the lab clock, and a
// partition fails the hop.
type Link struct {
	From, To string
	clock    *Clock
	latency  atomic.Int64
	down     atomic.Bool // the owner (e.g. the LB) has taken To out
	cut      *cutSet
	win      *Window
}

// cutSet holds the partitions in force, shared by a system's links. Each
// partition is a group of nodes cut off from every node outside it.
type cutSet struct {
	mu     sync.RWMutex
	groups []map[string]bool
}

func (c *cutSet) has(name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, g := range c.groups {
		if g[name] {
			return true
		}
	}
	return false
}

// cuts reports whether a partition separates a from b.
func (c *cutSet) cuts(a, b string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, g := range c.groups {
		if g[a] != g[b] {
			return true
		}
	}
	return false
}

// Cut reports whether a partition cuts this link.
func (l *Link) Cut() bool { return l.cut.cuts(l.From, l.To) }

// Delay spends the link's injected latency and counts one use. It fails
// with ErrPartitioned when either end is partitioned.
func (l *Link) Delay(ctx context.Context) error {
	if l.Cut() {
		return fmt.Errorf("%s: %w", l.ID(), ErrPartitioned)
	}
	l.win.Record(0, false)
	if d := time.Duration(l.latency.Load()); d > 0 {
		return l.clock.Sleep(ctx, d)
	}
	return nil
}

// SetLatency injects d on the link.
func (l *Link) SetLatency(d time.Duration) { l.latency.Store(int64(d)) }

// SetDown marks the link as out of use (drawn dashed).
func (l *Link) SetDown(down bool) { l.down.Store(down) }

// ID is "from>to".
func (l *Link) ID() string { return l.From + ">" + l.To }

// AddLink adds a hop from one node to another.
func (s *System) AddLink(from, to string) *Link {
	l := &Link{From: from, To: to, clock: s.Clock, cut: s.cuts, win: NewWindow(s.Clock, 3)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = append(s.links, l)
	return l
}

// RemoveLink takes a link out of the topology.
func (s *System) RemoveLink(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.links {
		if l.ID() == id {
			s.links = append(s.links[:i:i], s.links[i+1:]...)
			return
		}
	}
}

// Link returns the link "from>to".
func (s *System) Link(id string) (*Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.ID() == id {
			return l, true
		}
	}
	return nil, false
}

// Partition cuts the group of nodes off from every other node (with cut
// false, heals the partition any of them is in). The nodes stay up: whoever
// is on their side may still use them.
func (s *System) Partition(names []string, cut bool) {
	s.cuts.mu.Lock()
	var changed []map[string]bool
	if cut {
		g := map[string]bool{}
		for _, n := range names {
			g[n] = true
		}
		s.cuts.groups = append(s.cuts.groups, g)
		changed = append(changed, g)
	} else {
		keep := s.cuts.groups[:0]
		for _, g := range s.cuts.groups {
			hit := false
			for _, n := range names {
				hit = hit || g[n]
			}
			if hit {
				changed = append(changed, g)
			} else {
				keep = append(keep, g)
			}
		}
		s.cuts.groups = keep
	}
	s.cuts.mu.Unlock()
	for _, g := range changed {
		var members []string
		for n := range g {
			members = append(members, n)
		}
		sort.Strings(members)
		if cut {
			s.Events.Add(EvPartition, strings.Join(members, ","), Textf("link.cut", "cut off from the rest; still up"))
		} else {
			s.Events.Add(EvHeal, strings.Join(members, ","), Textf("link.healed", "links restored"))
		}
	}
}
