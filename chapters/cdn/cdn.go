package cdn

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cdn"
	"time"

	"scalelab/engine"
)

func cdnLesson(r *chapters.Run, l *cdnLab) map[string]any {
	out := kit.FactsLesson(r) // measured facts only: none is filled with 0
	by := map[string]float64{}
	for _, reg := range cdnRegions() {
		if _, _, q := l.browsers.Latency.Totals(reg.Name); q.N > 0 {
			by[reg.Name] = chapters.Round1(engine.Ms(q.P50))
		}
	}
	out["p50_ms_by_region"] = by
	return out
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
		ID:        "cdn",
		Number:    6,
		Lesson:    kit.FactsLesson,
		RunTotals: []string{"edge_hit_pct", "origin_requests", "offload_pct", "stale_responses", "stale_if_error_served"},
		Steps: []chapters.Step{
			chapters.StepOf[*cdnLab]{
				ID:       "edges",
				Build:    cdnStep(cdnTune{route: "origin", ttl: "60s", knobs: []string{"cdn.route"}, lead: []string{"edge hit ratio", "origin offload", "origin req/s", "p50 ap", "p50 eu", "p50 us"}}),
				Keys:     []chapters.Key{{Key: "c", Help: "use the cdn", Knob: "cdn.route"}},
				Solution: chapters.Solution{Script: "13s set cdn.route cdn", For: 26 * time.Second},
				Watch:    watchCDN, Lesson: cdnLesson,
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
				// a 10 s edge TTL first, so the stale window ends soon
				Solution: chapters.Solution{Script: "0s set cdn.ttl 10s\n5s deploy\n20s deploy\n20.5s purge\n28s set cdn.urls versioned\n30s deploy", For: 42 * time.Second},
				Watch:    watchCDN, Lesson: cdnLesson,
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
				ID:     "edge-dies",
				Select: "edge-eu",
				Build:  cdnStep(cdnTune{route: "cdn", ttl: "10s", knobs: []string{"cdn.fallback", "cdn.stale-if-error"}, lead: []string{"stale-if-error served/s", "p50 us", "p50 eu", "p50 ap", "origin req/s"}}),
				Keys: []chapters.Key{
					{Key: "f", Help: "origin fallback", Knob: "cdn.fallback"},
					{Key: "e", Help: "stale if error", Knob: "cdn.stale-if-error"},
				},
				// fallback on, then off, while edge-eu is down; then the origin
				// dies with stale-if-error on
				Solution: chapters.Solution{Script: "8s kill edge-eu\n16s set cdn.fallback off\n20s restart edge-eu\n21s set cdn.fallback on\n21s set cdn.stale-if-error on\n33s kill origin", For: 49 * time.Second},
				Watch:    watchCDN, Lesson: cdnLesson,
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
