package shard

import (
	"fmt"
	"strconv"

	"scalelab/engine"
	"scalelab/engine/internal/hash"
)

// The strategies a shard map routes by.
const (
	Modulo = "modulo" // hash of the key, modulo the number of shards
	Range  = "range"  // ranges of user id: ids follow sign-up order
	Ring   = "ring"   // consistent hashing with virtual nodes
)

// The keys a shard map can hash.
const (
	KeyUser    = "user"    // the user id
	KeyCountry = "country" // the user's country: few values, uneven
)

// Layout is how a shard map places keys.
type Layout struct {
	Strategy string
	Key      string
	// VNodes is the ring's virtual nodes per shard.
	VNodes int
	// Users is how many users existed when the ranges were drawn: the
	// seeded ids 1..Users are split evenly and ids past them (new users)
	// fall in the last range.
	Users int
	// Pins is the directory: users placed on a named shard whatever the
	// strategy says.
	Pins map[int]string
}

func (l Layout) String() string {
	s := l.Strategy
	if l.Key == KeyCountry {
		s += " of country"
	}
	if l.Strategy == Ring {
		s += " · " + strconv.Itoa(l.VNodes) + " vnodes"
	}
	if len(l.Pins) > 0 {
		s += " · " + strconv.Itoa(len(l.Pins)) + " pinned"
	}
	return s
}

// Text says the layout in the learner's language.
func (l Layout) Text() engine.Text {
	var t engine.Text
	switch {
	case l.Key == KeyCountry:
		t = engine.Textf("shard.layout.country", "%s of country", engine.KnobValue(l.Strategy))
	case l.Strategy == Ring:
		t = engine.Textf("shard.layout.ring", "%s · %d vnodes", engine.KnobValue(l.Strategy), l.VNodes)
	default:
		t = engine.Textf("shard.layout.plain", "%s", engine.KnobValue(l.Strategy))
	}
	if len(l.Pins) > 0 {
		t = engine.Textf("shard.layout.pinned", "%s · %d pinned", t, len(l.Pins))
	}
	return t
}

// Validate reports a layout that cannot route.
func (l Layout) Validate() error {
	switch l.Strategy {
	case Modulo, Range, Ring:
	default:
		return fmt.Errorf("shard strategy %q: want %s, %s or %s", l.Strategy, Modulo, Range, Ring)
	}
	switch l.Key {
	case KeyUser, KeyCountry:
	default:
		return fmt.Errorf("shard key %q: want %s or %s", l.Key, KeyUser, KeyCountry)
	}
	if l.Strategy == Range && (l.Key != KeyUser || l.Users < 1) {
		return fmt.Errorf("a range map needs the user id as its key and the users' count")
	}
	return nil
}

// Map is a shard map: which shard owns each key. It is immutable; a change
// makes a new one.
type Map struct {
	layout Layout
	names  []string
	ring   *hash.Ring
	pins   map[int]int
	spread []int // the shards the strategy spreads keys over, as indexes
}

// NewMap makes the map of a layout over the named shards, in order.
func NewMap(l Layout, names []string) (*Map, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("a shard map needs a shard")
	}
	m := &Map{layout: l, names: append([]string(nil), names...), pins: map[int]int{}}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	for u, name := range l.Pins {
		i, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("user %d is pinned to %s, which is not a shard", u, name)
		}
		m.pins[u] = i
	}
	// a shard that holds nothing but pinned keys takes no other key
	var members []string
	for i, n := range names {
		if !m.pinnedOnly(n) {
			m.spread = append(m.spread, i)
			members = append(members, n)
		}
	}
	if len(m.spread) == 0 {
		return nil, fmt.Errorf("every shard holds only pinned users: none is left for the rest")
	}
	if l.Strategy == Ring {
		m.ring = hash.NewRing(members, l.VNodes)
	}
	return m, nil
}

// pinnedOnly reports whether a shard exists only for pinned keys.
func (m *Map) pinnedOnly(name string) bool {
	for _, n := range m.layout.Pins {
		if n == name {
			return true
		}
	}
	return false
}

// Layout returns the map's layout.
func (m *Map) Layout() Layout { return m.layout }

// Names returns the shards in order.
func (m *Map) Names() []string { return m.names }

// Owner returns the index of the shard owning a user's rows.
func (m *Map) Owner(user int) int {
	if i, ok := m.pins[user]; ok {
		return i
	}
	var h uint64
	if m.layout.Key == KeyCountry {
		h = hash.Mix64(hash.FNV1a(CountryOf(user)))
	} else {
		h = hash.Mix64(uint64(user))
	}
	n := len(m.spread)
	switch m.layout.Strategy {
	case Ring:
		// the ring's members are the spread shards, in order
		return m.spread[m.ring.Owner(h)]
	case Range:
		i := (user - 1) * n / m.layout.Users
		return m.spread[min(max(i, 0), n-1)]
	}
	return m.spread[h%uint64(n)]
}

// Bounds returns a range map's first user id per shard, in the shards'
// order (for the inspector); a shard holding only pinned users has 0.
func (m *Map) Bounds() []int {
	if m.layout.Strategy != Range {
		return nil
	}
	n := len(m.spread)
	out := make([]int, len(m.names))
	for k, i := range m.spread {
		// the smallest id u with (u-1)*n/Users >= k
		out[i] = (k*m.layout.Users+n-1)/n + 1
	}
	return out
}

// Shares returns a ring's share of the hash space per shard, 0..1 (nil for
// other strategies).
func (m *Map) Shares() []float64 {
	if m.ring == nil {
		return nil
	}
	sh := m.ring.Shares(len(m.spread))
	out := make([]float64, len(m.names))
	for k, i := range m.spread {
		out[i] = sh[k]
	}
	return out
}

// countries and their share of users, in percent: one country has a third
// of the users, as real sign-ups do.
var countries = []struct {
	code string
	pct  int
}{{"us", 35}, {"in", 15}, {"br", 12}, {"de", 10}, {"jp", 10}, {"kr", 8}, {"fr", 6}, {"ng", 4}}

// CountryOf is a user's country, fixed by the user id.
func CountryOf(user int) string {
	p := int(hash.Mix64(uint64(user)^0x5bd1e995) % 100)
	for _, c := range countries {
		if p < c.pct {
			return c.code
		}
		p -= c.pct
	}
	return countries[0].code
}
