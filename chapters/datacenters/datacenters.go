package datacenters

import (
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
)

// fact reports a latched fact.
func fact(r *chapters.Run, key string) (float64, bool) {
	v, ok := r.Facts[key]
	return v, ok
}

// has reports whether every fact is latched.
func has(r *chapters.Run, keys ...string) bool {
	for _, k := range keys {
		if _, ok := r.Facts[k]; !ok {
			return false
		}
	}
	return true
}

func readsMix() engine.Mix { return engine.Mix{engine.OpRead: 90, engine.OpWrite: 10} }

// the keys that act on a whole data center
func dcKeys(dc string, kill, restart string) []chapters.Key {
	return []chapters.Key{
		{Key: kill, Help: "kill " + dc + " data center", Action: engine.ActKill, Target: "@dc:" + dc},
		{Key: restart, Help: "restart " + dc + " data center", Action: engine.ActRestart, Target: "@dc:" + dc},
	}
}

// Datacenters is chapter 8: users sent to the nearest of two data
// centers by GeoDNS, a data center's death waiting on the record's TTL,
// and data kept in sync across the ocean.
func Datacenters() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "datacenters",
		Number: 8,
		Lesson: kit.FactsLesson,
		// figures of a step's own run: the debrief, which sums the chapter
		// up, leaves them out
		RunTotals: []string{"dns_queries", "dns_ttl_s", "stale_reads", "lost_writes", "traffic_share_by_dc", "p50_ms_by_region"},
		Steps:     chapters.Steps(datacenterSteps()...),
	}
}

// datacenterSteps are the chapter's steps, typed.
func datacenterSteps() []chapters.StepOf[*lab] {
	return []chapters.StepOf[*lab]{
		{
			ID: "geodns",
			Build: step(tune{weights: "100/0", ttl: "5s", mix: readsMix(), keys: 1000, knobs: []string{"dns.weights"},
				lead: []string{"us p50", "eu p50", "ap p50", "eu share"}}),
			Keys:     []chapters.Key{{Key: "w", Help: "dns answers", Knob: "dns.weights"}},
			Solution: chapters.Solution{Script: "12s set dns.weights geo", For: 26 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"eu_p50_drop_pct"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "eu-p50", Choices: 3, Unit: "%",
				Measured: kit.FactMeasured[*lab]("eu_p50_drop_pct"), Correct: func(v float64) int {
					switch {
					case v < 20:
						return 0
					case v < 60:
						return 1
					}
					return 2
				}, Hides: []string{"p50"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "one-dc", Check: func(r *chapters.Run, _ *lab) bool { return has(r, "p50_ms_us_one", "p50_ms_eu_one", "p50_ms_ap_one") }},
				{ID: "geo", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "eu_users_on_eu_pct")
					return ok && v >= 95 && has(r, "p50_ms_eu_geo")
				}},
			},
		},
		{
			ID: "dc-dies",
			Build: step(tune{weights: "geo", ttl: "15s", mix: readsMix(), keys: 1000, knobs: []string{"dns.ttl", "dns.fallback"},
				lead: []string{"failed since kill", "eu share", "dns queries/s", "dcs in dns", "eu p50"}}),
			Keys: append(dcKeys("eu", "e", "E"),
				chapters.Key{Key: "t", Help: "dns ttl", Knob: "dns.ttl"},
				chapters.Key{Key: "f", Help: "client fallback", Knob: "dns.fallback"}),
			Solution: chapters.Solution{Script: "4s kill @dc:eu\n29s restart @dc:eu\n29s set dns.ttl 5s\n47s kill @dc:eu\n62s restart @dc:eu\n62s set dns.fallback on\n72s kill @dc:eu",
				For: 90 * time.Second},
			Watch: watch, Lesson: lesson,
			Owns: []string{"dc_failover_s", "failed_during_failover", "dns_detect_s"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "ttl-wait", Choices: 3, Unit: "s",
				Measured: kit.FactMeasured[*lab]("dc_failover_s_15s"), Correct: func(v float64) int {
					switch {
					case v < 6:
						return 0
					case v <= 30:
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "kill", Check: func(r *chapters.Run, _ *lab) bool { return has(r, "dc_failover_s_15s") }},
				{ID: "short-ttl", Check: func(r *chapters.Run, _ *lab) bool {
					short, ok1 := fact(r, "dc_failover_s_5s")
					long, ok2 := fact(r, "dc_failover_s_15s")
					q5, ok3 := fact(r, "dns_qps_5s")
					q15, ok4 := fact(r, "dns_qps_15s")
					return ok1 && ok2 && ok3 && ok4 && short < long && q5 > q15
				}},
				{ID: "fallback", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "failed_during_failover_fallback")
					return ok && v <= 10
				}},
			},
		},
		{
			ID: "data-sync",
			Build: step(tune{weights: "geo", ttl: "15s", mix: engine.Mix{engine.OpRead: 50, engine.OpWrite: 50}, keys: 200,
				lead: []string{"cross-dc lag", "stale reads", "us write p50", "eu write p50", "lost writes"}}),
			Keys:     append(dcKeys("us", "u", "U"), chapters.Key{Key: "m", Help: "replication", Knob: "repl.mode"}),
			Solution: chapters.Solution{Script: "10s set repl.mode semi-sync\n20s set repl.mode async\n28s kill @dc:us", For: 45 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"cross_dc_lag_ms", "stale_reads", "stale_per_1k_reads", "lost_writes", "writes_down_s", "write_p50_ms_us_async", "write_p50_ms_eu_async"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "lost", Choices: 3,
				Measured: kit.FactMeasured[*lab]("lost_writes"), Correct: func(v float64) int {
					switch {
					case v == 0:
						return 0
					case v <= 100:
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "lag", Check: func(r *chapters.Run, _ *lab) bool {
					lag, ok := fact(r, "cross_dc_lag_ms")
					return ok && lag >= 40 && r.Facts["stale_reads"] > 0
				}},
				{ID: "far-writes", Check: func(r *chapters.Run, _ *lab) bool {
					eu, ok1 := fact(r, "write_p50_ms_eu_async")
					us, ok2 := fact(r, "write_p50_ms_us_async")
					return ok1 && ok2 && eu-us >= 60
				}},
				{ID: "semi-sync", Check: func(r *chapters.Run, _ *lab) bool {
					semi, ok1 := fact(r, "write_p50_ms_us_semi_sync")
					async, ok2 := fact(r, "write_p50_ms_us_async")
					return ok1 && ok2 && semi-async >= 80
				}},
				{ID: "failover", Check: func(r *chapters.Run, _ *lab) bool { return has(r, "lost_writes", "writes_down_s") }},
			},
		},
		{
			ID: "traffic-shift",
			Build: step(tune{weights: "geo", ttl: "15s", mix: readsMix(), keys: 1000, knobs: []string{"dns.weights", "dns.ttl"},
				lead: []string{"eu share", "dns queries/s", "us share", "eu p50"}}),
			Keys: []chapters.Key{
				{Key: "w", Help: "dns answers", Knob: "dns.weights"},
				{Key: "t", Help: "dns ttl", Knob: "dns.ttl"},
			},
			Solution: chapters.Solution{Script: "3s set dns.weights 100/0\n22s set dns.weights 90/10", For: 50 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"dns_drain_s", "drain_cached_left_s", "eu_share_pct_canary"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "drain", Choices: 3, Unit: "s",
				Measured: kit.FactMeasured[*lab]("dns_drain_s"), Correct: func(v float64) int {
					switch {
					case v < 2:
						return 0
					case v <= 25:
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "drain", Check: func(r *chapters.Run, _ *lab) bool { return has(r, "dns_drain_s") }},
				{ID: "canary", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "eu_share_pct_canary")
					return ok && v >= 2 && v <= 25
				}},
			},
		},
	}
}
