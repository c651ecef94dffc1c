// What the CDN chapter measures: counters, gauges, the modelled egress bill
// and the facts it latches on every snapshot.

package cdn

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cdn"
	"time"

	"scalelab/engine"
)

// Modelled egress prices, dollars per GB.
const (
	originPerGB = 0.09 // a cloud region's internet egress
	cdnPerGB    = 0.04 // a CDN's delivery
)

type cdnCounts struct {
	edgeHits, edgeMisses, originReqs, originBytes, edgeBytes, requests float64
	staleIfError                                                       float64 // expired copies served while the origin failed
}

func (c cdnCounts) slice() []float64 {
	return []float64{c.edgeHits, c.edgeMisses, c.originReqs, c.originBytes, c.edgeBytes, c.requests, c.staleIfError}
}

func cdnCountsOf(v []float64) cdnCounts { return cdnCounts{v[0], v[1], v[2], v[3], v[4], v[5], v[6]} }

func (l *cdnLab) counts() cdnCounts {
	var c cdnCounts
	for _, e := range l.edges {
		st := e.Stats()
		c.edgeHits += float64(st.Hits)
		c.edgeMisses += float64(st.Misses)
		c.edgeBytes += float64(st.Bytes)
		c.staleIfError += float64(st.Stale)
	}
	o := l.origin.Stats()
	c.originReqs = float64(o.UserRequests + o.EdgeRequests)
	c.originBytes = float64(o.BytesToUsers + o.BytesToEdges)
	if l.sys.Load != nil {
		t := l.sys.Load.Totals()
		c.requests = float64(t.OK + t.Failed)
	}
	return c
}

func (l *cdnLab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	l.gauge.Add(now, l.counts().slice()...)
	var out []engine.Gauge
	if dv, span, ok := l.gauge.Delta(5 * time.Second); ok {
		d := cdnCountsOf(dv)
		if hr, ok := kit.RatioPct(d.edgeHits, d.edgeMisses); ok {
			out = append(out, engine.Gauge{Name: "edge hit ratio", Value: chapters.Round1(hr), Unit: "%"})
		}
		if d.requests > 0 && d.edgeHits+d.edgeMisses > 0 { // with no edge in the path there is nothing offloaded
			out = append(out, engine.Gauge{Name: "origin offload", Value: chapters.Round1(max(0, 100*(1-d.originReqs/d.requests))), Unit: "%"})
		}
		out = append(out, engine.Gauge{Name: "origin req/s", Value: chapters.Round1(kit.PerSec(d.originReqs, span))})
		if d.staleIfError > 0 { // not hits: expired copies served because the origin failed
			out = append(out, engine.Gauge{Name: "stale-if-error served/s", Value: chapters.Round1(kit.PerSec(d.staleIfError, span))})
		}
		out = append(out, engine.Gauge{Name: "egress $/h", Value: chapters.Round1(egressPerHour(d, span)), Unit: "$/h", Modelled: true})
	}
	for _, reg := range cdnRegions() {
		if rps, q := l.browsers.Latency.Recent(reg.Name); q.N > 0 {
			out = append(out, kit.MsGauge("p50 "+reg.Name, q.P50))
		} else if rps > 0 { // requests, none answered: the row stays, with no figure
			out = append(out, engine.Gauge{Name: "p50 " + reg.Name, Unit: "ms", None: true})
		}
	}
	n, _ := l.browsers.Stale()
	out = append(out, engine.Gauge{Name: "stale responses", Value: float64(n)})
	// each edge's own hit ratio, over the same seconds
	for _, e := range l.edges {
		st := e.Stats()
		l.edgeRing(e.Name()).Add(now, float64(st.Hits), float64(st.Misses))
		if dv, _, ok := l.edgeRing(e.Name()).Delta(5 * time.Second); ok {
			if hr, ok := kit.RatioPct(dv[0], dv[1]); ok {
				out = append(out, engine.Gauge{Name: e.Name() + " hit", Value: chapters.Round1(hr), Unit: "%"})
			}
		}
	}
	return kit.LeadGauges(out, l.lead...)
}

// edgeRing is the gauges' ring of one edge's hits and misses.
func (l *cdnLab) edgeRing(name string) *kit.Ring {
	l.ringsMu.Lock()
	defer l.ringsMu.Unlock()
	if l.rings == nil {
		l.rings = map[string]*kit.Ring{}
	}
	r := l.rings[name]
	if r == nil {
		r = kit.NewRing(20 * time.Second)
		l.rings[name] = r
	}
	return r
}

// egressPerHour is the modelled egress bill per hour at the rate of d.
func egressPerHour(d cdnCounts, span time.Duration) float64 {
	gbPerHour := func(bytes float64) float64 { return kit.PerSec(bytes, span) * 3600 / 1e9 }
	return gbPerHour(d.originBytes)*originPerGB + gbPerHour(d.edgeBytes)*cdnPerGB
}

// watchCDN latches the chapter's figures on every snapshot.
func watchCDN(r *chapters.Run, l *cdnLab) {
	now := r.Now()
	cur := l.counts()
	l.watch.Add(now, cur.slice()...)
	if hr, ok := kit.RatioPct(cur.edgeHits, cur.edgeMisses); ok {
		r.Facts["edge_hit_pct"] = chapters.Round1(hr)
	}
	r.Facts["origin_requests"] = cur.originReqs
	if cur.requests > 0 {
		r.Facts["offload_pct"] = chapters.Round1(max(0, 100*(1-cur.originReqs/cur.requests)))
	}
	stale, lastStale := l.browsers.Stale()
	r.Facts["stale_responses"] = float64(stale)
	var sie int64
	for _, e := range l.edges {
		sie += e.Stats().Stale
	}
	r.Facts["stale_if_error_served"] = float64(sie)

	route := "origin"
	if l.browsers.CDN() {
		route = "cdn"
	}
	edgesUp := true
	for _, e := range l.edges {
		edgesUp = edgesUp && e.State() == engine.StateUp
	}
	originUp := l.origin.State() == engine.StateUp
	// latency by region and route, once the route has held and all is up
	if knob := r.KnobAt("cdn.route", now); knob == route && edgesUp && originUp && r.Held(10*time.Second, "cdn.route", knob) {
		for _, reg := range cdnRegions() {
			if _, q := l.browsers.Latency.Recent(reg.Name + "/" + route); q.N >= 20 {
				r.Facts["p50_ms_"+reg.Name+"_"+route] = chapters.Round1(engine.Ms(q.P50))
			}
		}
		if dv, span, ok := l.watch.Delta(5 * time.Second); ok {
			r.Facts["egress_usd_per_h_"+route] = chapters.Round1(egressPerHour(cdnCountsOf(dv), span))
		}
	}
	ttl := l.origin.TTL()
	// deploys: how long stale copies were served, after a purge, with
	// versioned URLs
	deploys := r.EventsOf(cdn.EvDeploy)
	purges := r.EventsOf(cdn.EvPurge)
	for i, d := range deploys {
		next := time.Duration(1 << 62)
		if i+1 < len(deploys) {
			next = deploys[i+1].T
		}
		purged := time.Duration(-1)
		for _, p := range purges {
			if p.T >= d.T && p.T < next {
				purged = p.T
				break
			}
		}
		// stale responses are counted by when their request was sent: from
		// the deploy, or from the very moment of the purge
		switch {
		case r.KnobAt("cdn.urls", d.T) == "versioned":
			if now-d.T >= 10*time.Second && next > now {
				r.Facts["stale_versioned"] = float64(l.browsers.StaleSentIn(d.T, next))
			}
		case purged >= 0:
			if now-purged >= 6*time.Second && next > now {
				r.Facts["stale_after_purge"] = float64(l.browsers.StaleSentIn(purged, next))
			}
		case now-d.T > ttl+2*time.Second && next > now && lastStale <= now:
			// (a stale response after now belongs to a deploy this
			// snapshot has not seen yet)
			w := 0.0
			if lastStale > d.T {
				w = (lastStale - d.T).Seconds()
			}
			r.Facts["stale_window_s"] = chapters.Round1(w)
		}
	}
	// failures by region while its edge is down, by fallback
	fb := r.KnobAt("cdn.fallback", now)
	for _, e := range l.edges {
		reg := e.Region()
		totalOK, totalBad, _ := l.browsers.Latency.Totals(reg)
		ok, bad := l.grow.Of(reg+" ok", totalOK), l.grow.Of(reg+" failed", totalBad)
		// requests sent before a fallback switch may fail after it: count
		// under a setting once it has held a second
		if e.State() == engine.StateUp || route != "cdn" || !originUp || !r.Held(time.Second, "cdn.fallback", fb) {
			continue
		}
		suffix := ""
		if fb == "off" {
			suffix = "_no_fallback"
		}
		r.Facts["n_ok_edge_down"+suffix] += ok
		r.Facts["n_bad_edge_down"+suffix] += bad
		if t := r.Facts["n_ok_edge_down"+suffix] + r.Facts["n_bad_edge_down"+suffix]; t >= 50 {
			r.Facts["failed_pct_edge_down"+suffix] = chapters.Round1(100 * r.Facts["n_bad_edge_down"+suffix] / t)
		}
		if fb == "on" {
			if _, q := l.browsers.Latency.Recent(reg + "/fallback"); q.N >= 20 {
				r.Facts["p50_ms_fallback"] = chapters.Round1(engine.Ms(q.P50))
			}
		}
	}
	// the origin down past the TTL, with stale-if-error on: every request
	// since the edges' copies expired counts
	if !originUp && r.KnobAt("cdn.stale-if-error", now) == "on" {
		if k, ok := r.LastEvent(engine.EvKill, "origin"); ok && now-k.T > ttl+time.Second {
			t := l.sys.Load.Totals()
			base, ok := l.originDown[k.T]
			if !ok {
				base = [2]int64{t.OK, t.Failed}
				l.originDown[k.T] = base
			}
			okN, bad := t.OK-base[0], t.Failed-base[1]
			if okN+bad >= 100 {
				r.Facts["failed_pct_origin_down"] = chapters.Round1(100 * float64(bad) / float64(okN+bad))
			}
		}
	}
}
