package cache

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cache"
	"time"

	"scalelab/engine"
)

// cacheLesson is the measured facts: a figure not measured yet is absent,
// never 0.
func cacheLesson(r *chapters.Run) map[string]any { return kit.FactsLesson(r) }

// Cache is chapter 5: a read-through cache on Redis in front of the
// database: hit ratio, TTL, stale data, eviction, the cache's death and a
// stampede on a hot key.
func Cache() *chapters.Chapter {
	threeWay := func(lo, hi float64) func(v float64) int {
		return func(v float64) int {
			switch {
			case v < lo:
				return 0
			case v <= hi:
				return 1
			}
			return 2
		}
	}
	return &chapters.Chapter{
		ID:        "cache",
		Number:    5,
		Lesson:    cacheLesson,
		RunTotals: []string{"hit_pct", "evictions", "stale_reads", "db_reads", "cache_refused"},
		Steps: []chapters.Step{
			chapters.StepOf[*cacheLab]{
				ID: "hit-ratio",
				Build: cacheStep(func(t *cacheTune) {
					t.knobs, t.lead = []string{"cache.ttl", "load.keys"}, []string{"hit ratio", "db reads"}
				}),
				Keys: []chapters.Key{
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
					{Key: "z", Help: "key popularity", Knob: "load.keys"},
				},
				// the text's order: warm with Zipf keys, uniform keys, a 1 s TTL
				Solution:   chapters.Solution{Script: "24s set load.keys uniform\n36s set cache.ttl 1s", For: 48 * time.Second},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "zipf-hit", Choices: 3, Unit: "%", Measured: kit.FactMeasured[*cacheLab]("hit_pct_zipf_60s"), Correct: threeWay(50, 80), Hides: []string{"hit ratio"}},
				Objectives: []chapters.ObjectiveOf[*cacheLab]{
					{ID: "warm", Check: func(r *chapters.Run, t *cacheLab) bool { return r.Facts["hit_pct_zipf_60s"] > 80 }},
					{ID: "uniform", Check: func(r *chapters.Run, t *cacheLab) bool {
						for _, ttl := range cacheTTLs {
							u, okU := r.Facts["hit_pct_uniform_"+ttl]
							z, okZ := r.Facts["hit_pct_zipf_"+ttl]
							if okU && okZ && u < z {
								return true
							}
						}
						return false
					}},
					{ID: "short-ttl", Check: func(r *chapters.Run, t *cacheLab) bool {
						// with the keys the learner has on: the text switches to
						// uniform keys before it asks for a 1 s TTL
						for _, keys := range []string{"zipf", "uniform"} {
							short, ok1 := r.Facts["db_reads_per_s_"+keys+"_1s"]
							long, ok2 := r.Facts["db_reads_per_s_"+keys+"_60s"]
							if ok1 && ok2 && short > long {
								return true
							}
						}
						return false
					}},
				},
			}.Step(),
			chapters.StepOf[*cacheLab]{
				ID: "stale",
				Build: cacheStep(func(t *cacheTune) {
					t.ttl, t.knobs, t.lead = "5m", []string{"cache.pattern", "cache.ttl"}, []string{"stale reads/s", "hit ratio"}
				}),
				Keys: []chapters.Key{
					{Key: "w", Help: "write pattern", Knob: "cache.pattern"},
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
				},
				// each switch flushes the cache: write-through needs time to warm
				Solution: chapters.Solution{Script: "10s set cache.pattern invalidate\n25s set cache.pattern write-through", For: 55 * time.Second},
				Watch:    watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "stale-aside", Choices: 3, Unit: "per 1k reads", Measured: kit.FactMeasured[*cacheLab]("stale_per_1k_reads_cache_aside"),
					Correct: func(v float64) int {
						if v > 0 {
							return 1
						}
						return 0
					}},
				Objectives: []chapters.ObjectiveOf[*cacheLab]{
					{ID: "see-stale", Check: func(r *chapters.Run, t *cacheLab) bool { return r.Facts["n_stale_cache_aside"] > 0 }},
					{ID: "invalidate", Check: func(r *chapters.Run, t *cacheLab) bool { return cleanFor(r, t, cache.PatternInvalidate, 0) }},
					{ID: "write-through", Check: func(r *chapters.Run, t *cacheLab) bool { return cleanFor(r, t, cache.PatternWriteThrough, 80) }},
				},
			}.Step(),
			chapters.StepOf[*cacheLab]{
				ID: "eviction",
				Build: cacheStep(func(t *cacheTune) {
					t.memory, t.knobs = cacheMemories[0], []string{"cache.memory", "cache.policy", "cache.samples"}
					t.lead = []string{"evictions/s", "hit ratio"}
				}),
				Keys: []chapters.Key{
					{Key: "m", Help: "cache memory", Knob: "cache.memory"},
					{Key: "p", Help: "eviction policy", Knob: "cache.policy"},
					{Key: "e", Help: "eviction samples", Knob: "cache.samples"},
				},
				// noeviction while 16 KB is full, then room for every user, as
				// the text goes: the policy left on noeviction
				Solution:   chapters.Solution{Script: "15s set cache.policy noeviction\n21s set cache.memory 4MB", For: 46 * time.Second},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "small-hit", Choices: 3, Unit: "%", Measured: kit.FactMeasured[*cacheLab]("hit_pct_mem_16kb"), Correct: threeWay(20, 75), Hides: []string{"hit ratio"}},
				Objectives: []chapters.ObjectiveOf[*cacheLab]{
					{ID: "churn", Check: func(r *chapters.Run, t *cacheLab) bool {
						h, ok := r.Facts["hit_pct_mem_16kb"]
						return ok && h < 75 && r.Facts["evictions_per_s_mem_16kb"] >= 1
					}},
					{ID: "enough", Check: func(r *chapters.Run, t *cacheLab) bool {
						h, ok := r.Facts["hit_pct_mem_4mb"]
						return ok && h > 80 && r.Facts["evictions_per_s_mem_4mb"] == 0
					}},
					{ID: "noeviction", Check: func(r *chapters.Run, t *cacheLab) bool {
						l := t
						if !r.Held(5*time.Second, "cache.policy", cache.EvictNone) {
							return false
						}
						dv, _, ok := l.watch.Delta(5 * time.Second)
						if !ok {
							return false
						}
						d := countsOf(dv)
						return d.refused > 0 && d.readOK > 0 && d.readBad == 0
					}},
				},
			}.Step(),
			chapters.StepOf[*cacheLab]{
				ID:         "cache-dies",
				Owns:       []string{"db_reads_per_s_cache_up", "db_reads_per_s_cache_down", "read_failed_pct_cache_down", "db_reads_per_s_one_of_two_down", "refill_s"},
				Select:     "cache-1",
				Build:      cacheStep(func(t *cacheTune) { t.dbSize, t.lead = "large", []string{"db reads", "hit ratio"} }),
				Keys:       []chapters.Key{{Key: "a", Help: "add cache node", Action: engine.ActAdd, Target: "cache"}},
				Solution:   chapters.Solution{Script: "10s kill cache-1\n20s restart cache-1\n38s add cache\n48s kill cache-2", For: 56 * time.Second},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "cache-down-fail", Unit: "%", Measured: kit.FactMeasured[*cacheLab]("read_failed_pct_cache_down")},
				Objectives: []chapters.ObjectiveOf[*cacheLab]{
					{ID: "kill-cache", Check: func(r *chapters.Run, t *cacheLab) bool {
						f, ok := r.Facts["read_failed_pct_cache_down"]
						down, okD := r.Facts["db_reads_per_s_cache_down"]
						return ok && okD && f == 0 && down > 2*r.Facts["db_reads_per_s_cache_up"]
					}},
					{ID: "cold", Check: func(r *chapters.Run, t *cacheLab) bool { _, ok := r.Facts["refill_s"]; return ok }},
					{ID: "two-caches", Check: func(r *chapters.Run, t *cacheLab) bool {
						half, ok := r.Facts["db_reads_per_s_one_of_two_down"]
						all, okAll := r.Facts["db_reads_per_s_cache_down"]
						return ok && (!okAll || half < 0.75*all)
					}},
				},
			}.Step(),
			chapters.StepOf[*cacheLab]{
				ID:   "stampede",
				Owns: []string{"stampede_db_reads", "stampede_db_reads_coalesced"},
				Build: cacheStep(func(t *cacheTune) {
					t.zipf, t.readWork, t.dbSize, t.ttl = 2, 100*time.Millisecond, "large", "5s"
					t.knobs, t.lead = []string{"cache.coalesce", "cache.ttl"}, []string{"db reads/expiry", "db reads"}
				}),
				Keys: []chapters.Key{
					{Key: "c", Help: "coalesce misses", Knob: "cache.coalesce"},
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
				},
				Solution:   chapters.Solution{Script: "16s set cache.coalesce on", For: 32 * time.Second},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "stampede-reads", Unit: "reads", Measured: kit.FactMeasured[*cacheLab]("stampede_db_reads"), Hides: []string{"db reads/expiry"}},
				Objectives: []chapters.ObjectiveOf[*cacheLab]{
					{ID: "see-stampede", Check: func(r *chapters.Run, t *cacheLab) bool { return r.Facts["stampede_db_reads"] >= 5 }},
					{ID: "coalesce", Check: func(r *chapters.Run, t *cacheLab) bool {
						v, ok := r.Facts["stampede_db_reads_coalesced"]
						return ok && v <= 1
					}},
				},
			}.Step(),
		},
	}
}

// cleanFor reports whether a write pattern has held for 10 s with writes,
// a hit ratio of at least minHit, and stale reads down by 95% from
// cache-aside's (or under 2% of reads if cache-aside was not measured). Not
// to zero: a miss that read the database just before a write can still put
// the old value back after it, the race that remains.
func cleanFor(r *chapters.Run, l *cacheLab, pattern string, minHit float64) bool {
	if !r.Held(cacheSettle, "cache.pattern", pattern) {
		return false
	}
	dv, _, ok := l.watch.Delta(cacheSettle)
	if !ok {
		return false
	}
	d := countsOf(dv)
	hit, okH := kit.RatioPct(d.hits, d.misses)
	writes, _, _ := r.Sys.Load.OpStats(engine.OpWrite)
	limit := 0.02
	if aside, ok := r.Facts["stale_per_1k_reads_cache_aside"]; ok {
		limit = 0.05 * aside / 1000
	}
	return okH && writes > 0 && d.stale <= limit*(d.hits+d.misses) && hit >= minHit
}
