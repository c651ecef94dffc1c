package shard

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// mapKeys is how many user ids the strategy tests place: 1..mapKeys.
const mapKeys = 100_000

// shardNames is shard-1..shard-n.
func shardNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("shard-%d", i+1)
	}
	return out
}

func mustMap(t testing.TB, l Layout, n int) *Map {
	t.Helper()
	m, err := NewMap(l, shardNames(n))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// usersPer counts the users 1..mapKeys each shard owns.
func usersPer(m *Map) []int {
	c := make([]int, len(m.Names()))
	for u := 1; u <= mapKeys; u++ {
		c[m.Owner(u)]++
	}
	return c
}

// spreadOf is the largest count over the mean.
func spreadOf(counts []int) float64 {
	top, sum := 0, 0
	for _, c := range counts {
		top = max(top, c)
		sum += c
	}
	return float64(top) / (float64(sum) / float64(len(counts)))
}

// movedShare is the share of users 1..mapKeys whose shard (by name)
// differs between two maps.
func movedShare(a, b *Map) float64 {
	moved := 0
	for u := 1; u <= mapKeys; u++ {
		if a.Names()[a.Owner(u)] != b.Names()[b.Owner(u)] {
			moved++
		}
	}
	return float64(moved) / mapKeys
}

func TestModuloSpreadsUsersEvenly(t *testing.T) {
	for _, n := range []int{2, 4, 5, 8} {
		c := usersPer(mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, n))
		for i, got := range c {
			share := float64(got) / mapKeys
			if math.Abs(share*float64(n)-1) > 0.03 {
				t.Errorf("modulo over %d: shard %d holds %.4f of the users, want 1/%d within 3%%", n, i, share, n)
			}
		}
	}
}

func TestRingWithVNodesSpreadsUsersAndMoreVNodesSpreadBetter(t *testing.T) {
	spreadAt := func(v int) float64 {
		return spreadOf(usersPer(mustMap(t, Layout{Strategy: Ring, Key: KeyUser, VNodes: v}, 4)))
	}
	s1, s8, s64, s256 := spreadAt(1), spreadAt(8), spreadAt(64), spreadAt(256)
	t.Logf("ring over 4: spread %.3f at 1 vnode, %.3f at 8, %.3f at 64, %.3f at 256", s1, s8, s64, s256)
	// 64 points per shard leave each shard's arc about ±12% off its
	// quarter (these four names draw 1.26); 256 about ±6%
	if s64 > 1.3 {
		t.Errorf("64 vnodes: the largest shard holds %.3f× the mean users, want 1.3× or less", s64)
	}
	if s256 > 1.1 {
		t.Errorf("256 vnodes: the largest shard holds %.3f× the mean users, want 1.1× or less", s256)
	}
	if s64 >= s8 || s256 >= s64 || s8 >= s1 {
		t.Errorf("more vnodes should lower the spread: 1 → %.3f, 8 → %.3f, 64 → %.3f, 256 → %.3f", s1, s8, s64, s256)
	}
	// the map's shares are the ring's arcs: the users follow them
	m := mustMap(t, Layout{Strategy: Ring, Key: KeyUser, VNodes: 64}, 4)
	sh, c := m.Shares(), usersPer(m)
	for i := range c {
		if got := float64(c[i]) / mapKeys; math.Abs(got-sh[i]) > 0.01 {
			t.Errorf("shard %d: %.4f of the ring but %.4f of the users", i, sh[i], got)
		}
	}
	if mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4).Shares() != nil {
		t.Error("a modulo map reports ring shares")
	}
}

func TestRangeSplitsTheSeededIdsEvenlyAndNewIdsLandOnTheLast(t *testing.T) {
	for _, n := range []int{1, 3, 4, 7} {
		m := mustMap(t, Layout{Strategy: Range, Key: KeyUser, Users: mapKeys}, n)
		c := usersPer(m)
		for i, got := range c {
			if got < mapKeys/n || got > mapKeys/n+1 {
				t.Errorf("range over %d: shard %d holds %d of ids 1..%d, want %d", n, i, got, mapKeys, mapKeys/n)
			}
		}
		// ranges are contiguous and Bounds gives where each starts
		b := m.Bounds()
		if len(b) != n {
			t.Fatalf("range over %d: %d bounds", n, len(b))
		}
		for i, first := range b {
			if got := m.Owner(first); got != i {
				t.Errorf("range over %d: bound %d (user %d) is on shard %d", n, i, first, got)
			}
			if i > 0 && m.Owner(first-1) != i-1 {
				t.Errorf("range over %d: user %d before bound %d is on shard %d, want %d", n, first-1, i, m.Owner(first-1), i-1)
			}
		}
		for u := mapKeys + 1; u <= mapKeys+1000; u++ {
			if got := m.Owner(u); got != n-1 {
				t.Fatalf("range over %d: new user %d is on shard %d, want the last, %d", n, u, got, n-1)
			}
		}
	}
	if mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4).Bounds() != nil {
		t.Error("a modulo map reports range bounds")
	}
}

func TestCountryKeyLeavesShardsUneven(t *testing.T) {
	// one country has 35% of the users: the shard holding it holds more
	// than its quarter whatever else lands there
	for _, strategy := range []string{Modulo, Ring} {
		m := mustMap(t, Layout{Strategy: strategy, Key: KeyCountry, VNodes: 64}, 4)
		c := usersPer(m)
		if s := spreadOf(c); s < 1.5 {
			t.Errorf("%s of country over 4: the largest shard holds %.2f× the mean users (%v), want 1.5× or more", strategy, s, c)
		}
		// a country lives on one shard
		where := map[string]int{}
		for u := 1; u <= 5000; u++ {
			cc, o := CountryOf(u), m.Owner(u)
			if w, ok := where[cc]; ok && w != o {
				t.Fatalf("%s of country: %s's users on shards %d and %d", strategy, cc, w, o)
			}
			where[cc] = o
		}
	}
	// the countries' shares are as declared
	per := map[string]int{}
	for u := 1; u <= mapKeys; u++ {
		per[CountryOf(u)]++
	}
	for _, c := range countries {
		if got := float64(per[c.code]) / mapKeys * 100; math.Abs(got-float64(c.pct)) > 1 {
			t.Errorf("country %s: %.1f%% of users, want %d%%", c.code, got, c.pct)
		}
	}
}

func TestDirectoryPinsAUserToADedicatedShard(t *testing.T) {
	l := Layout{Strategy: Modulo, Key: KeyUser, Pins: map[int]string{7: "shard-5"}}
	m := mustMap(t, l, 5)
	plain := mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4)
	if got := m.Owner(7); got != 4 {
		t.Fatalf("pinned user 7 is on shard %d, want shard-5 (4)", got)
	}
	c := usersPer(m)
	if c[4] != 1 {
		t.Errorf("the pinned shard holds %d users, want only the pinned one", c[4])
	}
	// the other users are placed as by the strategy over the other shards:
	// pinning moves only the pinned user
	for u := 1; u <= mapKeys; u++ {
		if u != 7 && m.Owner(u) != plain.Owner(u) {
			t.Fatalf("user %d is on shard %d with the pin, %d without", u, m.Owner(u), plain.Owner(u))
		}
	}
	if got := movedShare(plain, m); got != 1.0/mapKeys {
		t.Errorf("pinning one user moved %v of the users, want 1/%d", got, mapKeys)
	}
	// a pin to a shard the strategy also spreads over makes it pinned-only
	// under the ring and range too
	for _, strategy := range []string{Ring, Range} {
		m := mustMap(t, Layout{Strategy: strategy, Key: KeyUser, VNodes: 64, Users: mapKeys, Pins: map[int]string{7: "shard-2", 9: "shard-2"}}, 4)
		c := usersPer(m)
		if c[1] != 2 || m.Owner(7) != 1 || m.Owner(9) != 1 {
			t.Errorf("%s: shard-2 holds %d users (7 on %d, 9 on %d), want the 2 pinned", strategy, c[1], m.Owner(7), m.Owner(9))
		}
		if strategy == Ring && m.Shares()[1] != 0 {
			t.Errorf("ring: the pinned-only shard has %.3f of the ring", m.Shares()[1])
		}
	}
}

func TestNewMapRefusesLayoutsThatCannotRoute(t *testing.T) {
	for _, tc := range []struct {
		name  string
		l     Layout
		n     int
		words string
	}{
		{"unknown pinned shard", Layout{Strategy: Modulo, Key: KeyUser, Pins: map[int]string{7: "shard-9"}}, 4, "not a shard"},
		{"every shard pinned-only", Layout{Strategy: Modulo, Key: KeyUser, Pins: map[int]string{1: "shard-1", 2: "shard-2"}}, 2, "only pinned"},
		{"bad strategy", Layout{Strategy: "random", Key: KeyUser}, 4, "strategy"},
		{"bad key", Layout{Strategy: Modulo, Key: "email"}, 4, "key"},
		{"range of country", Layout{Strategy: Range, Key: KeyCountry, Users: 100}, 4, "range"},
		{"range without users", Layout{Strategy: Range, Key: KeyUser}, 4, "range"},
		{"no shard", Layout{Strategy: Modulo, Key: KeyUser}, 0, "needs a shard"},
	} {
		_, err := NewMap(tc.l, shardNames(tc.n))
		if err == nil || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.words)
		}
	}
}

func TestBoundsWithAPinnedShardAreGivenPerShard(t *testing.T) {
	m := mustMap(t, Layout{Strategy: Range, Key: KeyUser, Users: 300, Pins: map[int]string{7: "shard-2"}}, 4)
	b := m.Bounds()
	if len(b) != len(m.Names()) {
		t.Fatalf("%d bounds for %d shards", len(b), len(m.Names()))
	}
	if b[1] != 0 {
		t.Errorf("the pinned-only shard-2 has bound %d, want 0 (no range)", b[1])
	}
	for i, first := range b {
		if i == 1 {
			continue
		}
		if got := m.Owner(first); got != i {
			t.Errorf("%s's range starts at user %d, which is on %s", m.Names()[i], first, m.Names()[got])
		}
	}
}

func TestTheoryOfAMove(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		from, to int
		want     float64
	}{
		{Modulo, 4, 5, 0.8},
		{Modulo, 4, 8, 0.5},
		{Modulo, 2, 4, 0.5},
		{Modulo, 5, 4, 0.8},
		{Ring, 4, 5, 0.2},
		{Ring, 5, 6, 1.0 / 6},
		{Ring, 5, 4, 0.2},
	} {
		l := Layout{Strategy: tc.strategy, Key: KeyUser, VNodes: 64}
		a, b := mustMap(t, l, tc.from), mustMap(t, l, tc.to)
		if got := theory(a, b, mapKeys); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s %d→%d: theory %.4f, want %.4f", tc.strategy, tc.from, tc.to, got, tc.want)
		}
		if tc.from == 4 && tc.to == 5 {
			if got := movedShare(a, b); math.Abs(got-tc.want) > 0.03 {
				t.Errorf("%s 4→5 on %d users: %.4f moved, theory %.4f", tc.strategy, mapKeys, got, tc.want)
			}
		}
	}
}

func TestTheoryCountsTheUsersWhenNoFormulaApplies(t *testing.T) {
	ring := func(v int) Layout { return Layout{Strategy: Ring, Key: KeyUser, VNodes: v} }
	for _, tc := range []struct {
		name string
		a, b *Map
	}{
		// more points per shard redraw every arc: far more than the 0
		// the n→n formula says
		{"ring 64→256 vnodes", mustMap(t, ring(64), 4), mustMap(t, ring(256), 4)},
		{"modulo → ring", mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4), mustMap(t, ring(64), 4)},
		{"range 4→5", mustMap(t, Layout{Strategy: Range, Key: KeyUser, Users: mapKeys}, 4), mustMap(t, Layout{Strategy: Range, Key: KeyUser, Users: mapKeys}, 5)},
		// the same count, one shard replaced: a quarter moves, not none
		{"modulo, shard-4 replaced", mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4), mapOver(t, Layout{Strategy: Modulo, Key: KeyUser}, "shard-1", "shard-2", "shard-3", "shard-9")},
		{"ring, shard-4 replaced", mustMap(t, ring(64), 4), mapOver(t, ring(64), "shard-1", "shard-2", "shard-3", "shard-9")},
		{"pin", mustMap(t, Layout{Strategy: Modulo, Key: KeyUser}, 4), mustMap(t, Layout{Strategy: Modulo, Key: KeyUser, Pins: map[int]string{7: "shard-5"}}, 5)},
	} {
		got, want := theory(tc.a, tc.b, mapKeys), movedShare(tc.a, tc.b)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: theory %.4f, but %.4f of the users move", tc.name, got, want)
		}
	}
}

func mapOver(t testing.TB, l Layout, names ...string) *Map {
	t.Helper()
	m, err := NewMap(l, names)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
