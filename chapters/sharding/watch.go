// What the sharding chapter measures: gauges, and the facts it latches on
// every snapshot.

package sharding

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/shard"
)

// The figures of a setting are taken from settle after it began (a
// reshard's move, and the queues it left, are over) to now, once that is
// window seconds or more: the longer it holds, the more requests they
// count. The gauges cover the last window seconds.
const (
	settle = 2 * time.Second
	window = 5
)

// The kinds of step, by what they measure.
const (
	kindWhy     = "why-shard"
	kindKey     = "shard-key"
	kindReshard = "resharding"
	kindCeleb   = "celebrity"
	kindJoins   = "joins"
)

// watchState is what the watch keeps between snapshots.
type watchState struct {
	seg      string        // the setting being measured, "" during a move
	segSince time.Duration // when it began
	moves    int           // finished moves latched
}

// stable returns the lab seconds [from, to) to measure setting label
// over: whole seconds from settle after it began to now, once there are
// window of them; a move restarts the wait.
func (w *watchState) stable(label string, now time.Duration, moving bool) (from, to int, ok bool) {
	if moving {
		label = ""
	}
	if label != w.seg {
		w.seg, w.segSince = label, now
		return 0, 0, false
	}
	from, to = kit.SecOf(w.segSince+settle+time.Second-1), kit.SecOf(now) // whole seconds
	if label == "" || to-from < window {
		return 0, 0, false
	}
	return from, to, true
}

// primaries is the shards in the map's order.
func (l *lab) primaries() []*shard.Shard { return l.rt.Shards() }

// busiest returns the shard that took most of the router's calls over lab
// seconds [from, to) (with signups, most sign-ups), and its share of them.
func (l *lab) busiest(from, to int, signups bool) (name string, share float64, ok bool) {
	var total, top int64
	for _, s := range l.primaries() {
		var n int64
		if signups {
			ok, failed, _ := l.book.span(signupAt+s.Name(), from, to)
			n = ok + failed
		} else {
			n = l.rt.CallsIn(s.Name(), from, to)
		}
		total += n
		if n > top {
			name, top = s.Name(), n
		}
	}
	if total == 0 {
		return "", 0, false
	}
	return name, float64(top) / float64(total), true
}

// rowsSpread is the largest shard's rows over the average.
func (l *lab) rowsSpread() float64 {
	var sum, top int64
	shards := l.primaries()
	for _, s := range shards {
		sum += s.Rows()
		top = max(top, s.Rows())
	}
	if sum == 0 {
		return 0
	}
	return float64(top) * float64(len(shards)) / float64(sum)
}

// replicas counts every shard's replicas.
func (l *lab) replicas() int {
	n := 0
	for _, s := range l.primaries() {
		n += len(s.Replicas())
	}
	return n
}

func (l *lab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	sec := kit.SecOf(now)
	var out []engine.Gauge
	// a label's p50 or p99 over the last window seconds
	quantile := func(name, label string, median bool) {
		ok, _, q50, q99 := l.book.quantiles(label, sec-window, sec+1)
		switch {
		case ok == 0:
			out = append(out, engine.Gauge{Name: name, Unit: "ms", None: true})
		case median:
			out = append(out, kit.MsGauge(name, q50))
		default:
			out = append(out, kit.MsGauge(name, q99))
		}
	}
	p50 := func(name, label string) { quantile(name, label, true) }
	p99 := func(name, label string) { quantile(name, label, false) }
	okp, _, _ := l.book.span(tagPost, sec-3, sec)
	oks, _, _ := l.book.span(tagSignup, sec-3, sec)
	out = append(out, engine.Gauge{Name: "writes/s", Value: chapters.Round1(float64(okp+oks) / 3), Unit: "req/s"})
	p99("write p99", tagPost)
	out = append(out,
		engine.Gauge{Name: "shards", Value: float64(len(l.primaries()))},
		engine.Gauge{Name: "replicas", Value: float64(l.replicas())})
	if name, share, ok := l.busiest(sec-window, sec+1, false); ok {
		out = append(out, engine.Gauge{Name: "hot shard", Value: chapters.Round1(100 * share), Unit: "%"})
		if _, q := l.rt.Book().Recent(name); q.P99 > 0 {
			out = append(out, kit.MsGauge("hot p99", q.P99))
		} else {
			out = append(out, engine.Gauge{Name: "hot p99", Unit: "ms", None: true})
		}
	} else {
		out = append(out, engine.Gauge{Name: "hot shard", Unit: "%", None: true}, engine.Gauge{Name: "hot p99", Unit: "ms", None: true})
	}
	out = append(out, engine.Gauge{Name: "rows spread", Value: chapters.Round1(l.rowsSpread())})
	moves := l.rt.Moves()
	var lost int64
	for _, m := range moves {
		lost += m.Lost
	}
	if n := len(moves); n > 0 {
		// the latest move: the rows it copied, and how far it has read
		m := moves[n-1]
		out = append(out, engine.Gauge{Name: "moved rows", Value: float64(m.Moved)})
		out = append(out, engine.Gauge{Name: "move", Value: chapters.Round1(100 * moveProgress(m)), Unit: "%"})
		if m.Done > 0 {
			out = append(out,
				engine.Gauge{Name: "moved", Value: chapters.Round1(100 * m.Ratio()), Unit: "%"},
				engine.Gauge{Name: "theory", Value: chapters.Round1(100 * m.Theory), Unit: "%"})
		}
	} else {
		out = append(out, engine.Gauge{Name: "moved rows"}, engine.Gauge{Name: "move", Unit: "%", None: true})
	}
	out = append(out, engine.Gauge{Name: "lost rows", Value: float64(lost)})
	if l.tn.kind == kindCeleb {
		p99("others p99", tagOther)
	} else {
		p99("read p99", tagOther)
	}
	p99("neighbours p99", tagNeighbour)
	p99("celebrity p99", tagCelebrity)
	if h, m := l.rt.CacheStats(); h+m > 0 {
		out = append(out, engine.Gauge{Name: "cache hits", Value: chapters.Round1(100 * float64(h) / float64(h+m)), Unit: "%"})
	}
	if l.rt.Feed() == shard.FeedDenorm {
		p50("denorm p50", tagFeed)
		p99("denorm p99", tagFeed)
	} else {
		p50("scatter p50", tagFeed)
		p99("scatter p99", tagFeed)
	}
	if posts, rows := l.rt.FanOut(); posts > 0 {
		out = append(out, engine.Gauge{Name: "fan-out", Value: chapters.Round1(float64(rows) / float64(posts))})
	}
	p50("post p50", tagPost)
	p99("post p99", tagPost)
	// the step's own gauges, in the order its text names them
	keep := out[:0]
	for _, g := range out {
		if slices.Contains(l.tn.lead, g.Name) || slices.Contains(l.tn.show, g.Name) {
			keep = append(keep, g)
		}
	}
	return kit.LeadGauges(keep, l.tn.lead...)
}

// moveProgress is how far a move has read the rows it scans, 0..1: 0
// while it waits for the writes in flight, 1 once checked.
func moveProgress(m shard.Move) float64 {
	switch {
	case m.Checked:
		return 1
	case !m.Counted || m.Total == 0:
		return 0
	}
	return min(0.99, float64(m.Scanned)/float64(m.Total))
}

// knob is a knob's value now, or def when the step has no such knob.
func knob(r *chapters.Run, name, def string) string {
	if v := r.KnobAt(name, r.Now()); v != "" {
		return v
	}
	return def
}

// watch latches the chapter's figures on every snapshot.
func watch(r *chapters.Run, l *lab) {
	now := r.Now()
	moving := l.rt.Moving()
	l.watchMoves(r)
	var label string
	switch l.tn.kind {
	case kindWhy:
		label = knob(r, "shard.count", l.tn.counts[0])
		if l.replicas() > 0 {
			label += "_r" + strconv.Itoa(l.replicas()/len(l.primaries()))
		}
	case kindKey:
		label = kit.FactName(knob(r, "shard.key", keyValues[0]))
	case kindCeleb:
		if c := knob(r, "shard.celebrity", l.tn.celeb); c == "60" {
			label = knob(r, "shard.fix", "none")
		} else {
			label = "c" + c
		}
	case kindJoins:
		label = l.rt.Feed() + "_s" + strconv.Itoa(len(l.primaries()))
	default:
		return
	}
	from, to, ok := l.w.stable(label, now, moving)
	if !ok {
		return
	}
	switch l.tn.kind {
	case kindWhy:
		n, _, _ := l.book.span(tagPost, from, to)
		wps := "writes_per_s_" + label // writes_per_s_1, writes_per_s_1_r2, writes_per_s_2, writes_per_s_4
		r.Facts[wps] = chapters.Round1(float64(n) / float64(to-from))
	case kindKey:
		if _, share, ok := l.busiest(from, to, false); ok {
			hot := "hot_share_pct_" + label // hot_share_pct_user_hash, _signup_range, _country
			r.Facts[hot] = chapters.Round1(100 * share)
		}
		if _, share, ok := l.busiest(from, to, true); ok {
			su := "signup_share_pct_" + label // signup_share_pct_signup_range
			r.Facts[su] = chapters.Round1(100 * share)
		}
		spread := "rows_spread_" + label // rows_spread_country
		r.Facts[spread] = chapters.Round1(l.rowsSpread())
	case kindCeleb:
		l.latchCeleb(r, label, from, to)
	case kindJoins:
		feed, n := l.rt.Feed(), strconv.Itoa(len(l.primaries()))
		if ok, _, p50, p99 := l.book.quantiles(tagFeed, from, to); ok > 0 {
			fp := feed + "_p99_ms_s" + n // scatter_p99_ms_s2, scatter_p99_ms_s4, scatter_p99_ms_s8, denorm_p99_ms_s4
			r.Facts[fp] = chapters.Round1(engine.Ms(p99))
			fm := feed + "_p50_ms_s" + n // scatter_p50_ms_s2, scatter_p50_ms_s8, denorm_p50_ms_s2
			r.Facts[fm] = chapters.Round1(engine.Ms(p50))
			latest, latest50 := feed+"_p99_ms", feed+"_p50_ms" // scatter_p99_ms, denorm_p99_ms, scatter_p50_ms, denorm_p50_ms
			r.Facts[latest], r.Facts[latest50] = r.Facts[fp], r.Facts[fm]
		}
		if ok, _, p50, p99 := l.book.quantiles(tagPost, from, to); ok > 0 {
			pp, pm := "post_p99_ms_"+feed, "post_p50_ms_"+feed // post_p99_ms_scatter, post_p50_ms_denorm
			r.Facts[pp], r.Facts[pm] = chapters.Round1(engine.Ms(p99)), chapters.Round1(engine.Ms(p50))
		}
		if posts, rows := l.rt.FanOut(); posts > 0 && feed == shard.FeedDenorm {
			r.Facts["fanout_rows_per_post"] = chapters.Round1(float64(rows) / float64(posts))
			r.Facts["feed_shards_denorm"] = 1 // a denormalised feed reads its own shard only
		}
	}
}

// latchCeleb measures a celebrity setting: the busiest shard's share, and
// the p99 of the celebrity's reads, their neighbours' and everyone else's.
func (l *lab) latchCeleb(r *chapters.Run, label string, from, to int) {
	if _, share, ok := l.busiest(from, to, false); ok {
		hot := "hot_share_pct_" + label // hot_share_pct_none, _dedicated, _cache, _c0
		r.Facts[hot] = chapters.Round1(100 * share)
	}
	for _, tag := range []string{tagNeighbour, tagOther, tagCelebrity} {
		if ok, _, q := l.book.span(tag, from, to); ok > 0 {
			k := tag + "_p99_ms_" + label // neighbour_p99_ms_none, other_p99_ms_none, celebrity_p99_ms_cache
			r.Facts[k] = chapters.Round1(engine.Ms(q))
		}
	}
	if h, m := l.rt.CacheStats(); label == "cache" && h+m > 0 {
		r.Facts["cache_hit_pct"] = chapters.Round1(100 * float64(h) / float64(h+m))
	}
}

// watchMoves latches each finished move: the share of rows moved against
// theory, its length, the writes kept and the check after it; for the
// first added shard under each strategy, under that strategy's name.
func (l *lab) watchMoves(r *chapters.Run) {
	moves := l.rt.Moves()
	for ; l.w.moves < len(moves); l.w.moves++ {
		m := moves[l.w.moves]
		if !m.Checked {
			break
		}
		r.Facts["move_count"]++
		r.Facts["moved_rows"] += float64(m.Moved)
		r.Facts["lost_rows"] += float64(m.Lost)
		r.Facts["misplaced_rows"] += float64(m.Misplaced)
		r.Facts["duplicate_rows"] += float64(m.Duplicates)
		r.Facts["kept_writes"] += float64(m.Kept)
		r.Facts["reshard_s"] = chapters.Round1(m.Seconds())
		strat := strings.Fields(m.After)[0]
		// a shard added in the resharding step: the figures it compares
		if l.tn.kind != kindReshard || m.To <= m.From || m.Before != m.After {
			continue
		}
		pct := "moved_pct_" + strat // moved_pct_modulo, moved_pct_ring
		if _, done := r.Facts[pct]; done {
			continue
		}
		r.Facts[pct] = chapters.Round1(100 * m.Ratio())
		th := "theory_pct_" + strat // theory_pct_modulo, theory_pct_ring
		r.Facts[th] = chapters.Round1(100 * m.Theory)
		rs := "reshard_s_" + strat // reshard_s_modulo, reshard_s_ring
		r.Facts[rs] = chapters.Round1(m.Seconds())
		lost := "lost_rows_" + strat // lost_rows_modulo, lost_rows_ring
		r.Facts[lost] = float64(m.Lost + m.Misplaced + m.Duplicates)
		kept := "kept_writes_" + strat // kept_writes_modulo, kept_writes_ring
		r.Facts[kept] = float64(m.Kept)
		if ok, _, q := l.book.span(tagOther, kit.SecOf(m.Started), kit.SecOf(m.Done)+1); ok > 0 {
			mp := "move_p99_ms_" + strat // move_p99_ms_modulo, move_p99_ms_ring
			r.Facts[mp] = chapters.Round1(engine.Ms(q))
		}
		if ok, _, q := l.book.span(tagOther, kit.SecOf(m.Started)-window, kit.SecOf(m.Started)); ok > 0 {
			bp := "before_p99_ms_" + strat // before_p99_ms_modulo, before_p99_ms_ring
			r.Facts[bp] = chapters.Round1(engine.Ms(q))
		}
	}
}
