// What the cache chapter measures: counters, gauges and the facts it latches
// on every snapshot.

package cache

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cache"
	"strings"
	"time"

	"scalelab/engine"
)

// cacheCounts are the cumulative counters a step samples.
type cacheCounts struct {
	hits, misses, dbReads, stale, evictions, refused, readOK, readBad float64
}

func (c cacheCounts) slice() []float64 {
	return []float64{c.hits, c.misses, c.dbReads, c.stale, c.evictions, c.refused, c.readOK, c.readBad}
}

func countsOf(v []float64) cacheCounts {
	return cacheCounts{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}
}

// minus is c - o, counter by counter.
func (c cacheCounts) minus(o cacheCounts) cacheCounts {
	a, b := c.slice(), o.slice()
	for i := range a {
		a[i] -= b[i]
	}
	return countsOf(a)
}

func (l *cacheLab) counts() cacheCounts {
	st := l.store.Stats()
	var ev, ref int64
	for _, c := range l.store.Caches() {
		cs := c.Stats()
		ev += cs.Evictions
		ref += cs.Refused
	}
	c := cacheCounts{hits: float64(st.Hits), misses: float64(st.Misses), dbReads: float64(l.db.Reads()), stale: float64(st.Stale), evictions: float64(ev), refused: float64(ref)}
	if l.sys.Load != nil {
		ok, bad, _ := l.sys.Load.OpStats(engine.OpRead)
		c.readOK, c.readBad = float64(ok), float64(bad)
	}
	return c
}

func (l *cacheLab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	l.gauge.Add(now, l.counts().slice()...)
	var used int64
	keys := 0
	for _, c := range l.store.Caches() {
		st := c.Stats()
		used += st.Used
		keys += st.Keys
	}
	out := []engine.Gauge{}
	if dv, span, ok := l.gauge.Delta(5 * time.Second); ok {
		d := countsOf(dv)
		if hr, ok := kit.RatioPct(d.hits, d.misses); ok {
			out = append(out, engine.Gauge{Name: "hit ratio", Value: chapters.Round1(hr), Unit: "%"})
		}
		out = append(out,
			engine.Gauge{Name: "db reads", Value: chapters.Round1(kit.PerSec(d.dbReads, span)), Unit: "/s"},
			engine.Gauge{Name: "evictions/s", Value: chapters.Round1(kit.PerSec(d.evictions, span))},
			engine.Gauge{Name: "stale reads/s", Value: chapters.Round1(kit.PerSec(d.stale, span))})
	}
	out = append(out,
		engine.Gauge{Name: "memory", Value: float64(used >> 10), Unit: "KB"},
		engine.Gauge{Name: "keys", Value: float64(keys)})
	if l.tune.zipf > 1.5 {
		if b := l.store.Bursts(hotKey); b.Bursts > 0 {
			out = append(out, engine.Gauge{Name: "db reads/expiry", Value: float64(b.Last)})
		}
	}
	return kit.LeadGauges(out, l.tune.lead...)
}

// settle is how long knobs must hold before a figure counts for them.
const cacheSettle = 10 * time.Second

// watchCache latches the chapter's figures on every snapshot.
func watchCache(r *chapters.Run, l *cacheLab) {
	now := r.Now()
	cur := l.counts()
	l.watch.Add(now, cur.slice()...)
	step := cur.minus(l.last) // since the last snapshot
	l.last = cur
	dv, span, ok := l.watch.Delta(5 * time.Second)
	var d cacheCounts
	if ok {
		d = countsOf(dv)
	}
	hit, hitOK := kit.RatioPct(d.hits, d.misses)
	if st := l.store.Stats(); st.Hits+st.Misses > 0 {
		r.Facts["hit_pct"] = chapters.Round1(100 * st.HitRatio())
	}
	r.Facts["evictions"] = cur.evictions
	r.Facts["stale_reads"] = cur.stale
	r.Facts["db_reads"] = cur.dbReads
	r.Facts["cache_refused"] = cur.refused
	if !ok {
		return
	}
	n, up := l.cachesUp()
	allUp := n == up

	// keys and TTL
	keys, ttl := r.KnobAt("load.keys", now), r.KnobAt("cache.ttl", now)
	if keys != "" && ttl != "" && allUp && hitOK && r.Held(cacheSettle, "load.keys", keys, "cache.ttl", ttl) {
		r.Facts["hit_pct_"+keys+"_"+ttl] = chapters.Round1(hit)
		r.Facts["db_reads_per_s_"+keys+"_"+ttl] = chapters.Round1(kit.PerSec(d.dbReads, span))
	}
	// write patterns: stale reads per pattern
	if p := r.KnobAt("cache.pattern", now); p != "" {
		k := kit.FactName(p)
		r.Facts["n_reads_"+k] += step.hits + step.misses
		r.Facts["n_stale_"+k] += step.stale
		if n := r.Facts["n_reads_"+k]; n >= 500 {
			r.Facts["stale_per_1k_reads_"+k] = chapters.Round1(1000 * r.Facts["n_stale_"+k] / n)
		}
	}
	// memory: the smallest size under LRU (the step's question), a larger
	// one under whatever policy the learner left on (the text cycles them
	// all before it gives the cache room)
	m, pol := r.KnobAt("cache.memory", now), r.KnobAt("cache.policy", now)
	if m != "" && allUp && hitOK && (pol == cache.EvictLRU || m != cacheMemories[0]) && r.Held(cacheSettle, "cache.memory", m, "cache.policy", pol) {
		k := strings.ToLower(m)
		r.Facts["hit_pct_mem_"+k] = chapters.Round1(hit)
		r.Facts["evictions_per_s_mem_"+k] = chapters.Round1(kit.PerSec(d.evictions, span))
	}
	// the cache's death, with one node and with two
	switch {
	case n == 1 && up == 0:
		r.Facts["n_readok_down"] += step.readOK
		r.Facts["n_readbad_down"] += step.readBad
		if t := r.Facts["n_readok_down"] + r.Facts["n_readbad_down"]; t >= 100 {
			r.Facts["read_failed_pct_cache_down"] = chapters.Round1(100 * r.Facts["n_readbad_down"] / t)
		}
		if downFor(r, "cache-1") >= 5*time.Second {
			r.Facts["db_reads_per_s_cache_down"] = chapters.Round1(kit.PerSec(d.dbReads, span))
			if dbn, ok := r.Latest.Node("db-1"); ok {
				r.Facts["db_p99_ms_cache_down"] = chapters.Round1(engine.Ms(dbn.P99))
			}
		}
	case n >= 2 && up == n-1:
		for _, c := range l.store.Caches() {
			if c.Node().State() != engine.StateUp && downFor(r, c.Node().Name()) >= 5*time.Second {
				r.Facts["db_reads_per_s_one_of_two_down"] = chapters.Round1(kit.PerSec(d.dbReads, span))
			}
		}
	case allUp && hitOK && hit >= 80 && n == 1:
		r.Facts["db_reads_per_s_cache_up"] = chapters.Round1(kit.PerSec(d.dbReads, span))
	}
	// a cold restart refilling: from the up event to an 80% hit ratio,
	// measured only over the time since
	if e, ok := r.LastEvent(engine.EvUp, "cache-1"); ok && e.T != l.upAt {
		l.upAt, l.refilled = e.T, false
	}
	if since := now - l.upAt; l.upAt >= 0 && !l.refilled && allUp && since >= 2*time.Second {
		if dv, _, ok := l.watch.Delta(min(since, 5*time.Second)); ok {
			if h, ok := kit.RatioPct(dv[0], dv[1]); ok && h >= 80 {
				r.Facts["refill_s"] = chapters.Round1(since.Seconds())
				l.refilled = true
			}
		}
	}
	// the hot key's bursts, by whether coalescing was on when each began
	b := l.store.Bursts(hotKey)
	if n := b.Bursts - b.CoBursts; n >= 2 {
		r.Facts["stampede_db_reads"] = chapters.Round1(float64(b.Reads-b.CoReads) / float64(n))
	}
	if b.CoBursts >= 2 {
		r.Facts["stampede_db_reads_coalesced"] = chapters.Round1(float64(b.CoReads) / float64(b.CoBursts))
	}
}

// downFor is how long a node has been down (0 when up).
func downFor(r *chapters.Run, name string) time.Duration {
	n, ok := r.Latest.Node(name)
	if !ok || n.State == engine.StateUp || n.State == engine.StateSaturated {
		return 0
	}
	if e, ok := r.LastEvent(engine.EvKill, name); ok {
		return r.Now() - e.T
	}
	return 0
}
