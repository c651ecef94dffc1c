// What the data centers chapter measures: gauges, and the facts it latches
// on every snapshot.

package datacenters

import (
	"sort"
	"strings"
	"sync"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/dns"
	"scalelab/engine/repl"
)

// watchState is what the watch keeps between snapshots.
type watchState struct {
	grow       kit.Growth
	seenEv     int
	killsMu    sync.Mutex // the gauges read kills from the snapshot goroutine
	kills      []*kill
	lagSum     float64
	lagN       float64
	lastT      time.Duration
	weights    string
	drainAt    time.Duration // when dns.weights last became 100/0; -1 before
	drainUntil time.Duration // when it changed again; -1 while it holds
	drainSec   int           // the next second to look at for the drain
	lastEuSec  int           // the last second eu had traffic since the drain began
	quiet      int           // seconds in a row with traffic and none on eu
}

// kill is a data center's death, from the kill of its load balancer.
type kill struct {
	dc       string
	at       time.Duration
	ttl      string
	fallback bool
	latched  bool
	// left is the longest a resolver's cached answer naming the dead data
	// center still had to live at the kill: no failure can end sooner
	// without a fallback.
	left time.Duration
}

func (w *watchState) init() { w.drainAt, w.drainUntil = -1, -1 }

// suffix names the setting a kill was measured under: its TTL, or
// "fallback" when clients retried at a second address.
func (k *kill) suffix() string {
	if k.fallback {
		return "fallback"
	}
	return k.ttl
}

// shareOf is each data center's share (%) of the requests sent in load
// seconds [from, to), and how many there were.
func (l *lab) shareOf(from, to int) (map[string]float64, int64) {
	by := map[string]int64{}
	var all int64
	for tag, v := range l.clients.Seconds(from, to) {
		_, dc, _ := strings.Cut(tag, "|")
		n := v[0] + v[1]
		by[dc] += n
		all += n
	}
	out := map[string]float64{}
	for _, d := range dcs {
		if all > 0 {
			out[d.name] = chapters.Round1(100 * float64(by[d.name]) / float64(all))
		}
	}
	return out, all
}

// usersOn is the share (%) of a region's requests sent in [from, to) that
// reached data center dc.
func (l *lab) usersOn(reg, dc string, from, to int) (float64, int64) {
	var on, all int64
	for tag, v := range l.clients.Seconds(from, to) {
		r, d, _ := strings.Cut(tag, "|")
		if r != reg {
			continue
		}
		all += v[0] + v[1]
		if d == dc {
			on += v[0] + v[1]
		}
	}
	if all == 0 {
		return 0, 0
	}
	return chapters.Round1(100 * float64(on) / float64(all)), all
}

func (l *lab) resolverTotals() dns.ResolverStats {
	var t dns.ResolverStats
	for _, rs := range l.res {
		for _, r := range rs {
			s := r.Stats()
			t.Lookups += s.Lookups
			t.Hits += s.Hits
			t.Misses += s.Misses
			t.Upstream += s.Upstream
			t.Failures += s.Failures
		}
	}
	return t
}

// cachedLeft is the longest time left on a resolver's cached answer that
// names data center dc first, and whether any does.
func (l *lab) cachedLeft(dc string) (time.Duration, bool) {
	var most time.Duration
	found := false
	for _, rs := range l.res {
		for _, res := range rs {
			for _, e := range res.Entries() {
				if e.Name == host && !e.Negative && len(e.Addrs) > 0 && l.dcOf(e.Addrs[0]) == dc {
					most, found = max(most, e.Left), true
				}
			}
		}
	}
	return most, found
}

// primaryUp reports whether the primary is up.
func (l *lab) primaryUp(st repl.ClusterState) bool {
	for _, n := range st.Nodes {
		if n.Name == st.Primary {
			return n.State == engine.StateUp
		}
	}
	return false
}

// crossLag is the replica's lag behind the primary across the ocean.
func (l *lab) crossLag() (time.Duration, bool) {
	for _, n := range l.cl.State().Nodes {
		if n.Role == "replica" && n.State == engine.StateUp {
			return n.Lag, true
		}
	}
	return 0, false
}

func (l *lab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	rt := l.resolverTotals()
	l.gauge.Add(now, float64(l.dns.Stats().Queries), float64(rt.Hits), float64(rt.Lookups))
	var out []engine.Gauge
	for _, r := range regions {
		if _, q := l.clients.Latency.Recent(r.name); q.N > 0 {
			out = append(out, kit.MsGauge(r.name+" p50", q.P50))
		} else {
			out = append(out, engine.Gauge{Name: r.name + " p50", Unit: "ms", None: true})
		}
	}
	var rates []float64
	var sum float64
	for _, d := range dcs {
		rps, _ := l.clients.Latency.Recent("dc:" + d.name)
		rates = append(rates, rps)
		sum += rps
	}
	if sum > 0 {
		for i, d := range dcs {
			out = append(out, engine.Gauge{Name: d.name + " share", Value: chapters.Round1(100 * rates[i] / sum), Unit: "%"})
		}
	}
	if dv, span, ok := l.gauge.Delta(10 * time.Second); ok {
		out = append(out, engine.Gauge{Name: "dns queries/s", Value: chapters.Round1(kit.PerSec(dv[0], span))})
		if dv[2] > 0 {
			out = append(out, engine.Gauge{Name: "resolver hits", Value: chapters.Round1(100 * dv[1] / dv[2]), Unit: "%"})
		}
	}
	up := 0
	for _, d := range dcs {
		if l.dns.Healthy(d.name) {
			up++
		}
	}
	out = append(out, engine.Gauge{Name: "dcs in dns", Value: float64(up)})
	if k := l.lastKill(); k != nil {
		n, _ := l.clients.FailedSince(k.at)
		out = append(out, engine.Gauge{Name: "failed since kill", Value: float64(n)})
	}
	if lag, ok := l.crossLag(); ok {
		out = append(out, engine.Gauge{Name: "cross-dc lag", Value: chapters.Round1(engine.Ms(lag)), Unit: "ms"})
	}
	for _, r := range regions[:2] {
		if _, q := l.clients.Latency.Recent(r.name + "/write"); q.N > 0 {
			out = append(out, kit.MsGauge(r.name+" write p50", q.P50))
		}
	}
	st := l.cl.State()
	out = append(out, engine.Gauge{Name: "lost writes", Value: float64(len(st.Lost))})
	out = append(out, engine.Gauge{Name: "stale reads", Value: float64(l.cl.RouterStats().Stale)})
	return kit.LeadGauges(out, l.lead...)
}

// lastKill is the latest data center death the watch saw.
// Its time and data center never change once it is made.
func (l *lab) lastKill() *kill {
	l.w.killsMu.Lock()
	defer l.w.killsMu.Unlock()
	if n := len(l.w.kills); n > 0 {
		return l.w.kills[n-1]
	}
	return nil
}

// watch latches the chapter's figures on every snapshot.
func watch(r *chapters.Run, l *lab) {
	w := &l.w
	now := r.Now()
	ttlV := r.KnobAt("dns.ttl", now)
	if ttlV == "" {
		ttlV = l.dns.TTL().String()
	}
	ttl, _ := time.ParseDuration(ttlV)
	weights := r.KnobAt("dns.weights", now)

	// p50 by region under one data center and under GeoDNS, once every
	// resolver has had time to take the new answer
	if r.Held(ttl+kit.Settle, "dns.weights", weights) {
		name := map[string]string{"100/0": "one", "geo": "geo"}[weights]
		for _, reg := range regions {
			if _, q := l.clients.Latency.Recent(reg.name); name != "" && q.N >= 20 {
				r.Facts["p50_ms_"+reg.name+"_"+name] = chapters.Round1(engine.Ms(q.P50))
			}
		}
		if weights == "geo" {
			// each region's users on its nearest data center, by the
			// address they connected to
			sec := kit.SecOf(now)
			for _, reg := range regions {
				if v, n := l.usersOn(reg.name, reg.prefer[0], sec-5, sec-1); n >= 20 {
					r.Facts[reg.name+"_users_on_"+reg.prefer[0]+"_pct"] = v
				}
			}
		}
	}
	if one, ok := r.Facts["p50_ms_eu_one"]; ok && one > 0 {
		// a drop, when there was one (a p50 that rose is no drop to report)
		if geo, ok := r.Facts["p50_ms_eu_geo"]; ok && geo <= one {
			r.Facts["eu_p50_drop_pct"] = chapters.Round1(100 * (1 - geo/one))
		}
	}

	// DNS queries per second under each TTL, once answers given under
	// the old one have expired
	dq := l.w.grow.Of("dnsq", l.dns.Stats().Queries)
	dt := (now - w.lastT).Seconds()
	w.lastT = now
	if r.Held(ttl, "dns.ttl", ttlV) {
		r.Facts["n_dnsq_"+ttlV] += dq
		r.Facts["n_dnst_"+ttlV] += dt
		if t := r.Facts["n_dnst_"+ttlV]; t >= 5 {
			r.Facts["dns_qps_"+ttlV] = chapters.Round1(r.Facts["n_dnsq_"+ttlV] / t)
		}
	}

	l.watchKills(r)
	l.watchData(r)
	l.watchShift(r, weights, ttl)
}

// watchKills measures each data center death: how long users' requests
// kept failing, and how many failed.
func (l *lab) watchKills(r *chapters.Run) {
	w := &l.w
	for ; w.seenEv < len(r.Events); w.seenEv++ {
		e := r.Events[w.seenEv]
		for _, d := range dcs {
			if e.Kind == engine.EvKill && e.Node == "lb-"+d.name {
				// a step without the knobs keeps the TTL it started with and no fallback
				k := &kill{dc: d.name, at: e.T, ttl: r.KnobAt("dns.ttl", e.T), fallback: r.KnobAt("dns.fallback", e.T) == "on"}
				if k.ttl == "" {
					k.ttl = l.dns.TTL().String()
				}
				if left, ok := l.cachedLeft(d.name); ok {
					k.left = left + (r.Now() - e.T)
				}
				w.killsMu.Lock()
				w.kills = append(w.kills, k)
				w.killsMu.Unlock()
			}
			if e.Kind == dns.EvDCDown && strings.HasPrefix(e.Detail, d.name+" ") {
				if k := l.lastKill(); k != nil && k.dc == d.name {
					r.Facts["dns_detect_s"] = chapters.Round1((e.T - k.at).Seconds())
				}
			}
		}
	}
	now := r.Now()
	for _, k := range w.kills {
		if k.latched {
			continue
		}
		ttl, _ := time.ParseDuration(k.ttl)
		n, last := l.clients.FailedSince(k.at)
		// failures have ended: none for 5 s, or none at all once a
		// health check and a TTL have passed
		if (last >= 0 && now-last >= 5*time.Second && now-k.at >= 8*time.Second) || (last < 0 && now-k.at >= ttl+10*time.Second) {
			k.latched = true
			d := 0.0
			if last >= 0 {
				d = chapters.Round1((last - k.at).Seconds())
			}
			sfx := kit.FactName(k.suffix())
			r.Facts["dc_failover_s_"+sfx] = d
			r.Facts["failed_during_failover_"+sfx] = float64(n)
			r.Facts["dc_failover_s"] = d
			r.Facts["failed_during_failover"] = float64(n)
			r.Facts["cached_left_s_"+sfx] = chapters.Round1(k.left.Seconds())
		}
	}
}

// watchData latches the cross-ocean data figures: lag, stale reads,
// writes by region under each replication mode, the failover's lost
// writes and how long writes were down.
func (l *lab) watchData(r *chapters.Run) {
	w := &l.w
	st := l.cl.State()
	mode := r.KnobAt("repl.mode", r.Now())
	// the lag of the steady state: async, the primary up, before any
	// failover (a replica whose primary died only grows older)
	if lag, ok := l.crossLag(); ok && len(st.Promotions) == 0 && mode == repl.ModeAsync && l.primaryUp(st) {
		w.lagSum += engine.Ms(lag)
		w.lagN++
		r.Facts["cross_dc_lag_ms"] = chapters.Round1(w.lagSum / w.lagN)
	}
	rs := l.cl.RouterStats()
	r.Facts["stale_reads"] = float64(rs.Stale)
	if rs.Reads >= 200 {
		r.Facts["stale_per_1k_reads"] = chapters.Round1(1000 * float64(rs.Stale) / float64(rs.Reads))
	}
	if len(st.Promotions) == 0 && r.Held(kit.Settle, "repl.mode", mode) {
		for _, reg := range regions[:2] {
			if _, q := l.clients.Latency.Recent(reg.name + "/write"); q.N >= 10 {
				r.Facts["write_p50_ms_"+reg.name+"_"+kit.FactName(mode)] = chapters.Round1(engine.Ms(q.P50))
			}
		}
	}
	if len(st.Promotions) > 0 {
		p := st.Promotions[0]
		r.Facts["lost_writes"] = float64(len(st.Lost))
		if k := l.lastKill(); k != nil && k.dc == "us" {
			r.Facts["promoted_after_s"] = chapters.Round1((p.At - k.at).Seconds())
		}
		if rs.WritesDown > 0 {
			r.Facts["writes_down_s"] = chapters.Round1(rs.WritesDown.Seconds())
		}
	}
}

// watchShift measures a traffic shift: how long after DNS stopped naming
// eu its traffic was gone, and eu's share under a 90/10 canary.
func (l *lab) watchShift(r *chapters.Run, weights string, ttl time.Duration) {
	w := &l.w
	now := r.Now()
	if weights != w.weights {
		first := w.weights == ""
		w.weights = weights
		switch {
		case weights == "100/0" && !first:
			w.drainAt, w.drainUntil, w.drainSec = now, -1, kit.SecOf(now)+1
			w.lastEuSec, w.quiet = kit.SecOf(now), 0
			delete(r.Facts, "dns_drain_s")
			if left, ok := l.cachedLeft("eu"); ok {
				r.Facts["drain_cached_left_s"] = chapters.Round1(left.Seconds())
			}
		case w.drainAt >= 0 && w.drainUntil < 0:
			// the drain ended: only the seconds sent under it count
			w.drainUntil = now
		}
	}
	if w.drainAt >= 0 {
		if _, has := r.Facts["dns_drain_s"]; !has {
			// whole seconds sent at least 3 s ago (their requests are done):
			// the drain is over at the end of the last second eu had any
			// traffic, once 3 seconds in a row with traffic gave it none
			for ; w.drainSec <= kit.SecOf(now)-3 && (w.drainUntil < 0 || w.drainSec < kit.SecOf(w.drainUntil)); w.drainSec++ {
				sh, n := l.shareOf(w.drainSec, w.drainSec+1)
				switch {
				case n == 0:
				case sh["eu"] > 0:
					w.lastEuSec, w.quiet = w.drainSec, 0
				default:
					w.quiet++
				}
				if w.quiet >= 3 {
					end := max(time.Duration(w.lastEuSec+1)*time.Second-w.drainAt, 0)
					r.Facts["dns_drain_s"] = chapters.Round1(end.Seconds())
					break
				}
			}
		}
	}
	if weights == "90/10" && r.Held(ttl+kit.Settle, "dns.weights", weights) {
		sec := kit.SecOf(now) - 3
		sh, n := l.shareOf(sec, sec+1)
		if n > 0 && sec != int(r.Facts["n_canary_sec"]) {
			r.Facts["n_canary_sec"] = float64(sec)
			r.Facts["n_canary_eu"] += sh["eu"] * float64(n) / 100
			r.Facts["n_canary_all"] += float64(n)
			if all := r.Facts["n_canary_all"]; all >= 200 {
				r.Facts["eu_share_pct_canary"] = chapters.Round1(100 * r.Facts["n_canary_eu"] / all)
			}
		}
	}
}

// lesson is the step's measured facts with the maps and lists the report
// carries beside them.
func lesson(r *chapters.Run, l *lab) map[string]any {
	out := kit.FactsLesson(r)
	p50 := map[string]float64{}
	// over the whole run, as chapter 6 reports it
	for _, reg := range regions {
		if ok, _, q := l.clients.Latency.Totals(reg.name); ok > 0 {
			p50[reg.name] = chapters.Round1(engine.Ms(q.P50))
		}
	}
	out["p50_ms_by_region"] = p50
	sec := kit.SecOf(r.Now())
	if sh, n := l.shareOf(sec-6, sec-1); n > 0 {
		out["traffic_share_by_dc"] = sh
	}
	out["dns_queries"] = float64(l.dns.Stats().Queries)
	out["dns_ttl_s"] = l.dns.TTL().Seconds()
	st := l.cl.State()
	ids := append([]string{}, st.Lost...)
	sort.Strings(ids)
	out["lost_writes"] = float64(len(ids))
	out["lost_write_ids"] = ids
	return out
}
