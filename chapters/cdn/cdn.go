package cdn

import (
	"fmt"
	"net/http"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cdn"
	"strings"
	"sync"
	"time"

	"scalelab/assets"
	"scalelab/engine"
)

// The CDN chapter's load: browsers fetching a page's static files.
const cdnRate = 300

// cdnRegions: users in three regions; the origin is in the US. Distances
// are modelled round trips.
func cdnRegions() []cdn.Region {
	return []cdn.Region{
		{Name: "us", Share: 40, ToEdge: 8 * time.Millisecond, ToOrigin: 20 * time.Millisecond},
		{Name: "eu", Share: 35, ToEdge: 8 * time.Millisecond, ToOrigin: 90 * time.Millisecond},
		{Name: "ap", Share: 25, ToEdge: 8 * time.Millisecond, ToOrigin: 170 * time.Millisecond},
	}
}

// edgeToOrigin is each edge's modelled round trip to the origin.
var edgeToOrigin = map[string]time.Duration{"us": 10 * time.Millisecond, "eu": 80 * time.Millisecond, "ap": 160 * time.Millisecond}

// How often a page load asks for each file.
func cdnFiles() []cdn.FileShare {
	return []cdn.FileShare{{Name: "app.css", Weight: 30}, {Name: "app.js", Weight: 30}, {Name: "logo.png", Weight: 25}, {Name: "intro-001.ts", Weight: 15}}
}

// Modelled egress prices, dollars per GB.
const (
	originPerGB = 0.09 // a cloud region's internet egress
	cdnPerGB    = 0.04 // a CDN's delivery
)

var cdnTTLs = []string{"10s", "60s", "10m"}

// cdnLab is one step's topology.
type cdnLab struct {
	sys      *engine.System
	origin   *cdn.Origin
	edges    []*cdn.Edge
	browsers *cdn.Browsers
	gauge    *kit.Ring
	watch    *kit.Ring
	lead     []string
	ringsMu  sync.Mutex
	rings    map[string]*kit.Ring // per edge, for the gauges

	// Watch's state between snapshots
	purgeBase   map[time.Duration]int64    // stale count 1 s after each purge
	deployBase  map[time.Duration]int64    // stale count at each versioned deploy
	regionTotal map[string][2]int64        // ok, failed per region at the last snapshot
	originDown  map[time.Duration][2]int64 // ok, failed when the origin's death outlived the TTL, by kill time
}

type cdnCounts struct {
	edgeHits, edgeMisses, originReqs, originBytes, edgeBytes, requests float64
}

func (c cdnCounts) slice() []float64 {
	return []float64{c.edgeHits, c.edgeMisses, c.originReqs, c.originBytes, c.edgeBytes, c.requests}
}

func cdnCountsOf(v []float64) cdnCounts { return cdnCounts{v[0], v[1], v[2], v[3], v[4], v[5]} }

func (l *cdnLab) counts() cdnCounts {
	var c cdnCounts
	for _, e := range l.edges {
		st := e.Stats()
		c.edgeHits += float64(st.Hits)
		c.edgeMisses += float64(st.Misses)
		c.edgeBytes += float64(st.Bytes)
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

type cdnTune struct {
	route, ttl string
	knobs      []string
	lead       []string // the gauges the step shows first
}

func buildCDN(sys *engine.System, opt chapters.Options, tune cdnTune) (*cdnLab, error) {
	var files []cdn.StaticFile
	for _, f := range assets.StaticFiles() {
		files = append(files, cdn.StaticFile{Name: f.Name, Type: f.Type, Body: f.Body, Text: f.Text})
	}
	ttl, err := time.ParseDuration(tune.ttl)
	if err != nil {
		return nil, fmt.Errorf("edge ttl: %w", err)
	}
	origin, err := cdn.NewOrigin(sys, cdn.OriginConfig{Name: "origin", Size: "medium", Work: 5 * time.Millisecond, Files: files, TTL: ttl})
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(origin); err != nil {
		return nil, err
	}
	l := &cdnLab{sys: sys, origin: origin, gauge: kit.NewRing(20 * time.Second), watch: kit.NewRing(30 * time.Second), lead: tune.lead,
		purgeBase: map[time.Duration]int64{}, deployBase: map[time.Duration]int64{}, regionTotal: map[string][2]int64{},
		originDown: map[time.Duration][2]int64{}}
	for _, reg := range cdnRegions() {
		name := "edge-" + reg.Name
		link := sys.AddLink(name, "origin")
		link.SetLatency(edgeToOrigin[reg.Name])
		e, err := cdn.NewEdge(sys, cdn.EdgeConfig{Name: name, Region: reg.Name, Size: "large", Work: 500 * time.Microsecond, Origin: origin, Link: link})
		if err != nil {
			return nil, err
		}
		if err := sys.AddNode(e); err != nil {
			return nil, err
		}
		l.edges = append(l.edges, e)
	}
	l.browsers = cdn.NewBrowsers(sys.Clock, origin, l.edges, cdnRegions(), cdnFiles())
	l.browsers.SetCDN(tune.route == "cdn")
	l.knobs(tune)
	sys.Handle(cdn.ActDeploy, func(engine.Action) error { origin.Deploy(); return nil })
	sys.Handle(cdn.ActPurge, func(engine.Action) error { return l.purge() })
	sys.AddGauges(l.gauges)

	cfg := engine.DefaultLoadConfig()
	cfg.Rate, cfg.Seed, cfg.Mix = cdnRate, opt.Seed, engine.Mix{engine.OpAsset: 1}
	if opt.Rate > 0 {
		cfg.Rate = opt.Rate
	}
	cfg.Keys, cfg.Users = 100, 3000
	cfg.Fetch, cfg.Observe = l.browsers.Fetch, l.browsers.Observe
	ld, err := engine.NewLoad(cfg, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// purge calls every edge's purge API (an HTTP PURGE of everything).
func (l *cdnLab) purge() error {
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	var done []string
	for _, e := range l.edges {
		if e.State() != engine.StateUp {
			continue
		}
		req, err := http.NewRequestWithContext(l.sys.Context(), "PURGE", e.URL()+"/*", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("purge %s: %w", e.Name(), err)
		}
		resp.Body.Close()
		done = append(done, e.Name())
	}
	l.sys.Events.Add(cdn.EvPurge, "cdn", "every copy dropped on %s", strings.Join(done, ", "))
	return nil
}

func (l *cdnLab) knobs(tune cdnTune) {
	b, o := l.browsers, l.origin
	onOff := func(apply func(bool)) func(string) error {
		return func(v string) error { apply(v == "on"); return nil }
	}
	all := map[string]*engine.Knob{
		"cdn.route": engine.NewKnob("cdn.route", []string{"cdn", "origin"}, tune.route, func(v string) error { b.SetCDN(v == "cdn"); return nil }),
		"cdn.ttl": engine.NewKnob("cdn.ttl", cdnTTLs, tune.ttl, func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil {
				o.SetTTL(d)
			}
			return err
		}),
		"cdn.urls":           engine.NewKnob("cdn.urls", []string{"plain", "versioned"}, "plain", func(v string) error { b.SetVersioned(v == "versioned"); return nil }),
		"cdn.fallback":       engine.NewKnob("cdn.fallback", []string{"on", "off"}, "on", onOff(b.SetFallback)),
		"cdn.stale-if-error": engine.NewKnob("cdn.stale-if-error", []string{"off", "on"}, "off", onOff(o.SetStaleIfError)),
	}
	for _, k := range tune.knobs {
		l.sys.AddKnob(all[k])
	}
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
		if d.requests > 0 {
			out = append(out, engine.Gauge{Name: "origin offload", Value: chapters.Round1(max(0, 100*(1-d.originReqs/d.requests))), Unit: "%"})
		}
		out = append(out, engine.Gauge{Name: "origin req/s", Value: chapters.Round1(kit.PerSec(d.originReqs, span))})
		out = append(out, engine.Gauge{Name: "egress $/h", Value: chapters.Round1(egressPerHour(d, span)), Unit: "$/h", Modelled: true})
	}
	for _, reg := range cdnRegions() {
		if _, q := l.browsers.Latency.Recent(reg.Name); q.N > 0 {
			out = append(out, kit.MsGauge("p50 "+reg.Name, q.P50))
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
	r.Facts["edge_hit_ratio"] = 0
	if hr, ok := kit.RatioPct(cur.edgeHits, cur.edgeMisses); ok {
		r.Facts["edge_hit_ratio"] = chapters.Round1(hr)
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
		switch {
		case r.KnobAt("cdn.urls", d.T) == "versioned":
			if _, ok := l.deployBase[d.T]; !ok {
				l.deployBase[d.T] = stale
			}
			if now-d.T >= 10*time.Second && next > now {
				r.Facts["stale_versioned"] = float64(stale - l.deployBase[d.T])
			}
		case purged >= 0:
			if _, ok := l.purgeBase[purged]; !ok && now-purged >= time.Second {
				l.purgeBase[purged] = stale
			}
			if base, ok := l.purgeBase[purged]; ok && now-purged >= 6*time.Second && next > now {
				r.Facts["stale_after_purge"] = float64(stale - base)
			}
		case now-d.T > ttl+2*time.Second && next > now:
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
		ok, bad, _ := l.browsers.Latency.Totals(reg)
		prev, seen := l.regionTotal[reg]
		l.regionTotal[reg] = [2]int64{ok, bad}
		if !seen || e.State() == engine.StateUp || route != "cdn" || !originUp {
			continue
		}
		suffix := ""
		if fb == "off" {
			suffix = "_no_fallback"
		}
		r.Facts["n_ok_edge_down"+suffix] += float64(ok - prev[0])
		r.Facts["n_bad_edge_down"+suffix] += float64(bad - prev[1])
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

func cdnLesson(r *chapters.Run, l *cdnLab) map[string]any {
	out := kit.FactsLesson(r)
	for _, k := range []string{"edge_hit_ratio", "origin_requests", "stale_responses"} {
		if _, ok := out[k]; !ok {
			out[k] = 0.0
		}
	}
	by := map[string]float64{}
	for _, reg := range cdnRegions() {
		if _, _, q := l.browsers.Latency.Totals(reg.Name); q.N > 0 {
			by[reg.Name] = chapters.Round1(engine.Ms(q.P50))
		}
	}
	out["p50_ms_by_region"] = by
	return out
}

func cdnStep(tune cdnTune) func(sys *engine.System, opt chapters.Options) (*cdnLab, error) {
	return func(sys *engine.System, opt chapters.Options) (*cdnLab, error) { return buildCDN(sys, opt, tune) }
}

// recentCDN is the last 5 s of counters, held under route cdn for 10 s.
func recentCDN(r *chapters.Run, l *cdnLab) (cdnCounts, bool) {
	if !r.Held(10*time.Second, "cdn.route", "cdn") {
		return cdnCounts{}, false
	}
	dv, _, ok := l.watch.Delta(5 * time.Second)
	if !ok {
		return cdnCounts{}, false
	}
	return cdnCountsOf(dv), true
}

// CDN is chapter 6: static files from edges near the users; Cache-Control
// TTLs; origin offload; deploys with purge or versioned URLs; an edge's and
// the origin's death.
func CDN() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "cdn",
		Number: 6,
		Lesson: kit.FactsLesson,
		Steps: []chapters.Step{
			chapters.StepOf[*cdnLab]{
				ID:    "edges",
				Build: cdnStep(cdnTune{route: "origin", ttl: "60s", knobs: []string{"cdn.route"}, lead: []string{"p50 us", "p50 eu", "p50 ap", "edge hit ratio", "origin offload"}}),
				Keys:  []chapters.Key{{Key: "c", Help: "use the cdn", Knob: "cdn.route"}},
				Watch: watchCDN, Lesson: cdnLesson,
				Prediction: &chapters.PredictionOf[*cdnLab]{ID: "ap-p50", Choices: 3, Unit: "%", Measured: func(r *chapters.Run, t *cdnLab) (float64, bool) {
					o, ok1 := r.Facts["p50_ms_ap_origin"]
					c, ok2 := r.Facts["p50_ms_ap_cdn"]
					if !ok1 || !ok2 || o == 0 {
						return 0, false
					}
					return chapters.Round1(100 * c / o), true
				}, Correct: func(v float64) int {
					switch {
					case v > 70:
						return 0
					case v > 20:
						return 1
					}
					return 2
				}},
				Objectives: []chapters.ObjectiveOf[*cdnLab]{
					{ID: "no-cdn", Check: func(r *chapters.Run, t *cdnLab) bool {
						for _, reg := range cdnRegions() {
							if _, ok := r.Facts["p50_ms_"+reg.Name+"_origin"]; !ok {
								return false
							}
						}
						return true
					}},
					{ID: "with-cdn", Check: func(r *chapters.Run, t *cdnLab) bool {
						d, ok := recentCDN(r, t)
						hr, okH := kit.RatioPct(d.edgeHits, d.edgeMisses)
						return ok && okH && hr > 90
					}},
					{ID: "offload", Check: func(r *chapters.Run, t *cdnLab) bool {
						d, ok := recentCDN(r, t)
						return ok && d.requests > 0 && d.originReqs < 0.1*d.requests
					}},
				},
			}.Step(),
			chapters.StepOf[*cdnLab]{
				ID:    "deploy",
				Build: cdnStep(cdnTune{route: "cdn", ttl: "60s", knobs: []string{"cdn.ttl", "cdn.urls"}, lead: []string{"stale responses", "edge hit ratio", "origin req/s"}}),
				Keys: []chapters.Key{
					{Key: "d", Help: "deploy new version", Action: cdn.ActDeploy, Target: "origin"},
					{Key: "u", Help: "purge the cdn", Action: cdn.ActPurge, Target: "cdn"},
					{Key: "t", Help: "edge ttl", Knob: "cdn.ttl"},
					{Key: "v", Help: "versioned urls", Knob: "cdn.urls"},
				},
				Watch: watchCDN, Lesson: cdnLesson,
				Prediction: &chapters.PredictionOf[*cdnLab]{ID: "stale-after-deploy", Choices: 3, Unit: "s", Measured: kit.FactMeasured[*cdnLab]("stale_window_s"), Correct: func(v float64) int {
					switch {
					case v == 0:
						return 0
					case v <= 65:
						return 1
					}
					return 2
				}},
				Objectives: []chapters.ObjectiveOf[*cdnLab]{
					{ID: "stale", Check: func(r *chapters.Run, t *cdnLab) bool { return r.Facts["stale_window_s"] > 0 }},
					{ID: "purge", Check: func(r *chapters.Run, t *cdnLab) bool {
						v, ok := r.Facts["stale_after_purge"]
						return ok && v == 0
					}},
					{ID: "versioned", Check: func(r *chapters.Run, t *cdnLab) bool {
						v, ok := r.Facts["stale_versioned"]
						return ok && v == 0
					}},
				},
			}.Step(),
			chapters.StepOf[*cdnLab]{
				ID:    "edge-dies",
				Build: cdnStep(cdnTune{route: "cdn", ttl: "10s", knobs: []string{"cdn.fallback", "cdn.stale-if-error"}, lead: []string{"p50 us", "p50 eu", "p50 ap", "origin req/s"}}),
				Keys: []chapters.Key{
					{Key: "f", Help: "origin fallback", Knob: "cdn.fallback"},
					{Key: "e", Help: "stale if error", Knob: "cdn.stale-if-error"},
				},
				Watch: watchCDN, Lesson: cdnLesson,
				Prediction: &chapters.PredictionOf[*cdnLab]{ID: "edge-dies-fail", Unit: "%", Measured: kit.FactMeasured[*cdnLab]("failed_pct_edge_down")},
				Objectives: []chapters.ObjectiveOf[*cdnLab]{
					{ID: "fallback", Check: func(r *chapters.Run, t *cdnLab) bool {
						v, ok := r.Facts["failed_pct_edge_down"]
						_, okP := r.Facts["p50_ms_fallback"]
						return ok && okP && v == 0
					}},
					{ID: "no-fallback", Check: func(r *chapters.Run, t *cdnLab) bool { return r.Facts["failed_pct_edge_down_no_fallback"] > 0 }},
					{ID: "stale-if-error", Check: func(r *chapters.Run, t *cdnLab) bool {
						v, ok := r.Facts["failed_pct_origin_down"]
						return ok && v == 0 && r.Facts["stale_if_error_served"] > 0
					}},
				},
			}.Step(),
		},
	}
}
