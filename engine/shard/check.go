package shard

import (
	"context"
	"fmt"
	"slices"
)

// theory is the share of rows expected to move from map a to map b.
func theory(a, b *Map, users int) float64 {
	la, lb := a.Layout(), b.Layout()
	n, m := len(a.spread), len(b.spread)
	if la.Strategy == lb.Strategy && la.Key == lb.Key && la.Key == KeyUser && len(la.Pins) == 0 && len(lb.Pins) == 0 {
		switch {
		case la.Strategy == Modulo && isPrefix(a.names, b.names):
			// keys whose hash mod n equals their hash mod m stay
			l := n / gcd(n, m) * m
			stay := 0
			for x := 0; x < l; x++ {
				if x%n == x%m {
					stay++
				}
			}
			return 1 - float64(stay)/float64(l)
		case la.Strategy == Ring && max(la.VNodes, 1) == max(lb.VNodes, 1) && isSubset(a.names, b.names):
			// the same points for the shards in both: only the arcs of
			// the shards added (or removed) change hands
			if m > n {
				return float64(m-n) / float64(m)
			}
			return float64(n-m) / float64(n)
		}
	}
	moved := 0
	for u := 1; u <= users; u++ {
		if a.names[a.Owner(u)] != b.names[b.Owner(u)] {
			moved++
		}
	}
	return float64(moved) / float64(max(users, 1))
}

// isPrefix reports whether the shorter of two lists of shards is the start
// of the longer: modulo's formula holds only when the shards keep their
// places.
func isPrefix(a, b []string) bool {
	k := min(len(a), len(b))
	return slices.Equal(a[:k], b[:k])
}

// isSubset reports whether the shards of the shorter list are all in the
// longer: the ring's formula holds only when no shard is replaced.
func isSubset(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Check reads every shard: the seed's rows and the router's acknowledged
// writes that are missing from their owner (lost), rows on a shard the map
// does not give their key (misplaced), and users and posts on two shards
// (duplicates; a follow or a timeline row on two shards is misplaced on
// one of them). Users and posts are checked one by one; follows, the
// followers index and timelines by their count per key, which SQLite sums.
func (r *Router) Check(ctx context.Context) (lost, misplaced, dups int64, err error) {
	posts, users := r.ledger.expected()
	r.mu.RLock()
	m, shards := r.cur, slices.Clone(r.shards)
	r.mu.RUnlock()
	type pk struct {
		t    int
		a, b int64
	}
	seen := map[pk]int{}
	onOwner := map[pk]int64{} // (table, key): rows on the key's owner
	for i, s := range shards {
		for ti, tb := range tables {
			q := "SELECT " + tb.cols[0] + ", COUNT(*) FROM " + tb.name + " GROUP BY " + tb.cols[0]
			switch ti {
			case 0:
				q = "SELECT id, 0 FROM users"
			case 1:
				q = "SELECT user_id, id FROM posts"
			}
			rs, err := s.data.QueryContext(ctx, q)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("check %s: %w", s.Name(), err)
			}
			for rs.Next() {
				var a, b int64
				if err := rs.Scan(&a, &b); err != nil {
					rs.Close()
					return 0, 0, 0, err
				}
				owned := m.Owner(int(a)) == i
				if ti <= 1 {
					if !owned {
						misplaced++
					}
					seen[pk{ti, a, b}]++
					continue
				}
				if owned {
					onOwner[pk{ti, a, 0}] += b
				} else {
					misplaced += b
				}
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	for _, n := range seen {
		if n > 1 {
			dups += int64(n - 1)
		}
	}
	for id, u := range posts {
		if seen[pk{1, int64(u), id}] == 0 {
			lost++
		}
	}
	for _, u := range users {
		if seen[pk{0, int64(u), 0}] == 0 {
			lost++
		}
	}
	for k, n := range r.ledger.seededCounts() {
		if have := onOwner[pk{k[0], int64(k[1]), 0}]; have < n {
			lost += n - have
		}
	}
	return lost, misplaced, dups, nil
}
