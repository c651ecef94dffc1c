package shard

import (
	"slices"
	"strconv"
	"strings"

	"scalelab/engine"
)

// Snap shows the router's shard map: the strategy, what each shard owns
// and holds, and the move under way or the latest one.
func (r *Router) Snap() engine.NodeSnap {
	n := r.Server.Snap()
	r.mu.RLock()
	m, shards := r.cur, slices.Clone(r.shards)
	moving := r.mv != nil
	r.mu.RUnlock()
	n.Detail = engine.Textf("shard.router.detail", "%s · %s", m.Layout().Text(), engine.Plural(len(shards), "shard"))
	n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.map.label", "shard map"), Value: m.Layout().Text()})
	bounds, shares := m.Bounds(), m.Shares()
	countries := map[int][]string{}
	if m.Layout().Key == KeyCountry {
		for _, c := range countries0() {
			i := m.Owner(firstUserOf(c))
			countries[i] = append(countries[i], c)
		}
	}
	pins := map[int][]int{}
	for u, name := range m.Layout().Pins {
		i := slices.Index(m.names, name)
		pins[i] = append(pins[i], u)
	}
	for i, s := range shards {
		var owns engine.Text
		k := slices.Index(m.spread, i)
		switch {
		case len(pins[i]) > 0 && k < 0:
			owns = engine.Textf("shard.owns.pinned", "pinned: user %d", pins[i][0])
		case m.Layout().Key == KeyCountry:
			owns = engine.Textf("shard.owns.countries", "countries: %s", strings.Join(countries[i], ", "))
		case bounds != nil && k == len(bounds)-1:
			owns = engine.Textf("shard.owns.last_range", "users %d and up", bounds[k])
		case bounds != nil:
			owns = engine.Textf("shard.owns.range", "users %d–%d", bounds[k], bounds[k+1]-1)
		case shares != nil:
			owns = engine.Textf("shard.owns.ring", "%.1f%% of the ring", 100*shares[i])
		default:
			owns = engine.Textf("shard.owns.modulo", "hash mod %d = %d", len(m.spread), k)
		}
		n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.shard.label", "%s", s.Name()),
			Value: engine.Textf("shard.shard.value", "%s · %d rows", owns, s.Rows())})
	}
	if moves := r.Moves(); len(moves) > 0 {
		mv := moves[len(moves)-1]
		if moving {
			n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.moving.label", "moving"),
				Value: engine.Textf("shard.moving.value", "%d of %d rows read · %d copied", mv.Scanned, mv.Total, mv.Moved)})
		} else {
			n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.last.label", "last move"),
				Value: engine.Textf("shard.last.value", "%d of %d rows (%.1f%%, theory %.1f%%) in %.1f s · %d lost", mv.Moved, mv.Total, 100*mv.Ratio(), 100*mv.Theory, mv.Seconds(), mv.Lost)})
		}
	}
	n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.feed.label", "feed"), Value: engine.Textf("shard.feed.value", "%s", engine.KnobValue(r.Feed()))})
	if r.cache.Load() != nil {
		h, ms := r.CacheStats()
		n.Lines = append(n.Lines, engine.Line{Label: engine.Textf("shard.cache.label", "cache in front"), Value: engine.Textf("shard.cache.value", "%d hits · %d misses", h, ms)})
	}
	return n
}

// countries0 lists the country codes.
func countries0() []string {
	out := make([]string, len(countries))
	for i, c := range countries {
		out[i] = c.code
	}
	return out
}

// firstUserOf is the smallest user id from a country.
func firstUserOf(code string) int {
	for u := 1; ; u++ {
		if CountryOf(u) == code {
			return u
		}
	}
}

// Keys says in figures which keys the i-th shard owns: "1/4" of the hash
// space, "23.1%" of the ring, users "1–250" or "751+", countries "us,in",
// or a pinned user "#7".
func (m *Map) Keys(i int) string {
	k := slices.Index(m.spread, i)
	if k < 0 {
		var us []string
		for u, name := range m.layout.Pins {
			if name == m.names[i] {
				us = append(us, "#"+strconv.Itoa(u))
			}
		}
		slices.Sort(us)
		return strings.Join(us, ",")
	}
	switch {
	case m.layout.Key == KeyCountry:
		var cs []string
		for _, c := range countries0() {
			if m.Owner(firstUserOf(c)) == i {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			return "-"
		}
		return strings.Join(cs, ",")
	case m.layout.Strategy == Range:
		b := m.Bounds()
		if k == len(b)-1 {
			return strconv.Itoa(b[k]) + "+"
		}
		return strconv.Itoa(b[k]) + "–" + strconv.Itoa(b[k+1]-1)
	case m.ring != nil:
		return strconv.FormatFloat(100*m.Shares()[i], 'f', 1, 64) + "%"
	}
	return "1/" + strconv.Itoa(len(m.spread))
}
