package sharding

import (
	"math"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/shard"
)

// Sharding is chapter 10: split the data so each shard holds a part.
func Sharding() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "sharding",
		Number: 10,
		Lesson: kit.FactsLesson,
		// figures of a step's own run: the debrief, which sums the chapter
		// up, leaves them out
		RunTotals: []string{"rows_by_shard", "moves", "moved_rows", "moved_ratio", "moved_ratio_theory", "lost_rows", "reshard_s",
			"hot_shard_share_ratio", "misplaced_rows", "duplicate_rows", "kept_writes", "failed_by_shard", "failovers", "writes_per_s_by_shards"},
		Steps: chapters.Steps(shardingSteps()...),
	}
}

func fact(r *chapters.Run, key string) (float64, bool) {
	v, ok := r.Facts[key]
	return v, ok
}

// ratioPct is a/b in percent, from two latched facts.
func ratioPct(r *chapters.Run, a, b string) (float64, bool) {
	x, ok1 := r.Facts[a]
	y, ok2 := r.Facts[b]
	if !ok1 || !ok2 || y <= 0 {
		return 0, false
	}
	return chapters.Round1(100 * x / y), true
}

// The steps' machines: a small shard has 2 workers.
var (
	// why-shard: 200 ms a write, 10 writes/s a shard
	writeBound = engine.WorkModel{Read: 10 * time.Millisecond, Feed: 10 * time.Millisecond, Write: 200 * time.Millisecond}
	// shard-key and resharding: quick, so the shards keep up
	quick = engine.WorkModel{Read: 10 * time.Millisecond, Feed: 10 * time.Millisecond, Write: 20 * time.Millisecond}
	// celebrity: 80 ms a read, 25 reads/s a shard
	readBound = engine.WorkModel{Read: 80 * time.Millisecond, Feed: 80 * time.Millisecond, Write: 80 * time.Millisecond}
	// joins: 8 ms on average, with a long tail
	tailed = engine.WorkModel{Read: 8 * time.Millisecond, Feed: 8 * time.Millisecond, Write: 8 * time.Millisecond}
)

func shardingSteps() []chapters.StepOf[*lab] {
	modulo := shard.Layout{Strategy: shard.Modulo, Key: shard.KeyUser}
	return []chapters.StepOf[*lab]{
		{
			ID: "why-shard",
			Build: step(tune{kind: kindWhy, shards: 1, size: "small", work: writeBound, layout: modulo, rate: 50, mix: engine.Mix{engine.OpWrite: 1},
				moveRate: 10000, counts: []string{"1", "2", "4"}, knobs: []string{"shard.replicas", "shard.count"},
				lead: []string{"writes/s", "shards", "replicas", "move"}, show: []string{"write p99", "moved rows"}}),
			Keys: []chapters.Key{
				{Key: "p", Help: "replicas", Knob: "shard.replicas"},
				{Key: "c", Help: "shards", Knob: "shard.count"},
			},
			Solution: chapters.Solution{Script: "9s set shard.replicas 2\n18s set shard.replicas 0\n18s set shard.count 2\n38s set shard.count 4", For: 66 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"writes_per_s_1", "writes_per_s_1_r2", "writes_per_s_2", "writes_per_s_4"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "replica-writes", Choices: 3, Unit: "%",
				Measured: func(r *chapters.Run, _ *lab) (float64, bool) {
					return ratioPct(r, "writes_per_s_1_r2", "writes_per_s_1")
				},
				Correct: func(v float64) int {
					switch {
					case v < 85:
						return 0
					case v <= 115:
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "replicas", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := ratioPct(r, "writes_per_s_1_r2", "writes_per_s_1")
					return ok && v >= 85 && v <= 115
				}},
				{ID: "two-shards", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := ratioPct(r, "writes_per_s_2", "writes_per_s_1")
					return ok && v >= 170
				}},
				{ID: "four-shards", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := ratioPct(r, "writes_per_s_4", "writes_per_s_1")
					return ok && v >= 320
				}},
			},
		},
		{
			ID: "shard-key",
			Build: step(tune{kind: kindKey, shards: 4, size: "small", work: quick, layout: modulo, rate: 30, mix: engine.Mix{engine.OpWrite: 1},
				signups: 0.3, newPosts: 0.5, moveRate: 20000, knobs: []string{"shard.key"},
				lead: []string{"hot shard", "rows spread", "moved rows", "move"}, show: []string{"writes/s"}}),
			Keys:     []chapters.Key{{Key: "k", Help: "shard key", Knob: "shard.key"}},
			Solution: chapters.Solution{Script: "9s set shard.key signup-range\n22s set shard.key country", For: 36 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"hot_share_pct_user_hash", "signup_share_pct_signup_range", "rows_spread_country"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "range-signups", Choices: 3, Unit: "%",
				Measured: kit.FactMeasured[*lab]("signup_share_pct_signup_range"), Correct: func(v float64) int {
					switch {
					case v < 35:
						return 0
					case v < 75:
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "even", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "hot_share_pct_user_hash")
					return ok && v <= 35
				}},
				{ID: "range-hot", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "signup_share_pct_signup_range")
					return ok && v >= 90
				}},
				{ID: "country-uneven", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "rows_spread_country")
					return ok && v >= 1.5
				}},
			},
		},
		{
			ID: "resharding",
			Build: step(tune{kind: kindReshard, shards: 4, size: "small", work: quick, layout: modulo, rate: 30, mix: engine.Mix{engine.OpRead: 0.7, engine.OpWrite: 0.3},
				moveRate: 4000, moveCost: 100 * time.Microsecond, knobs: []string{"shard.strategy", "shard.vnodes"},
				lead: []string{"moved", "theory", "lost rows", "move", "moved rows", "read p99"}, show: []string{"write p99"}}),
			Keys: []chapters.Key{
				{Key: "a", Help: "add a shard", Action: engine.ActAdd, Target: string(shard.RoleShard)},
				{Key: "g", Help: "strategy", Knob: "shard.strategy"},
				{Key: "v", Help: "virtual nodes", Knob: "shard.vnodes"},
			},
			Solution: chapters.Solution{Script: "3s add shard\n12s set shard.strategy ring\n21s add shard", For: 28 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"moved_pct_modulo", "theory_pct_modulo", "moved_pct_ring", "theory_pct_ring"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "modulo-moves", Choices: 3, Unit: "%",
				Measured: kit.FactMeasured[*lab]("moved_pct_modulo"), Correct: func(v float64) int {
					switch {
					case v < 35:
						return 0
					case v < 65:
						return 1
					}
					return 2
				}, Hides: []string{"moved", "theory"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "modulo-move", Check: func(r *chapters.Run, _ *lab) bool { return movedNearTheory(r, shard.Modulo) }},
				{ID: "ring-move", Check: func(r *chapters.Run, _ *lab) bool { return movedNearTheory(r, shard.Ring) }},
				{ID: "checked", Check: func(r *chapters.Run, _ *lab) bool {
					n, ok := fact(r, "move_count")
					return ok && n >= 2 && r.Facts["lost_rows"] == 0 && r.Facts["misplaced_rows"] == 0 && r.Facts["duplicate_rows"] == 0 && r.Facts["kept_writes"] > 0
				}},
			},
		},
		{
			ID: "celebrity",
			Build: step(tune{kind: kindCeleb, shards: 4, size: "small", work: readBound, layout: modulo, rate: 40, mix: engine.Mix{engine.OpRead: 1},
				celeb: "0", moveRate: 10000, knobs: []string{"shard.celebrity", "shard.fix"},
				lead: []string{"hot shard", "hot p99", "neighbours p99", "celebrity p99", "cache hits"}, show: []string{"others p99", "move"}}),
			Keys: []chapters.Key{
				{Key: "c", Help: "celebrity share", Knob: "shard.celebrity"},
				{Key: "f", Help: "fix", Knob: "shard.fix"},
			},
			Solution: chapters.Solution{Script: "8s set shard.celebrity 30\n9s set shard.celebrity 60\n18s set shard.fix dedicated\n31s set shard.fix cache", For: 42 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"neighbour_p99_ms_none", "neighbour_p99_ms_dedicated", "hot_share_pct_none", "cache_hit_pct"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "dedicated-neighbours", Choices: 3, Unit: "%",
				Measured: func(r *chapters.Run, _ *lab) (float64, bool) {
					return ratioPct(r, "neighbour_p99_ms_dedicated", "neighbour_p99_ms_none")
				}, Correct: func(v float64) int {
					switch {
					case v > 130:
						return 2
					case v < 70:
						return 1
					}
					return 0
				}, Hides: []string{"neighbours p99"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "hot", Check: func(r *chapters.Run, _ *lab) bool {
					share, ok1 := fact(r, "hot_share_pct_none")
					v, ok2 := ratioPct(r, "neighbour_p99_ms_none", "other_p99_ms_none")
					return ok1 && ok2 && share >= 50 && v >= 300
				}},
				{ID: "dedicated", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := ratioPct(r, "neighbour_p99_ms_dedicated", "neighbour_p99_ms_none")
					return ok && v <= 50
				}},
				{ID: "cache", Check: func(r *chapters.Run, _ *lab) bool {
					hits, ok1 := fact(r, "cache_hit_pct")
					before, ok2 := fact(r, "hot_share_pct_none")
					after, ok3 := fact(r, "hot_share_pct_cache")
					return ok1 && ok2 && ok3 && hits >= 80 && after < before
				}},
			},
		},
		{
			ID: "joins",
			Build: step(tune{kind: kindJoins, shards: 4, size: "medium", work: tailed, jitter: true, layout: modulo, rate: 30, mix: engine.Mix{engine.OpFeed: 0.7, engine.OpWrite: 0.3},
				moveRate: 10000, counts: []string{"4", "8", "2"}, knobs: []string{"shard.feed", "shard.count", "shard.strategy"},
				lead: []string{"scatter p50", "scatter p99", "denorm p50", "fan-out", "post p50", "shards"}, show: []string{"denorm p99", "post p99", "move"}}),
			Keys: []chapters.Key{
				{Key: "f", Help: "feed", Knob: "shard.feed"},
				{Key: "c", Help: "shards", Knob: "shard.count"},
			},
			Solution: chapters.Solution{Script: "9s set shard.count 8\n23s set shard.count 2\n38s set shard.feed denorm", For: 48 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"scatter_p50_ms_s2", "scatter_p50_ms_s8", "scatter_p99_ms_s2", "scatter_p99_ms_s8", "denorm_p50_ms_s2", "fanout_rows_per_post"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "scatter-grows", Choices: 3, Unit: "%",
				Measured: func(r *chapters.Run, _ *lab) (float64, bool) {
					return ratioPct(r, "scatter_p50_ms_s8", "scatter_p50_ms_s2")
				}, Correct: func(v float64) int {
					switch {
					case v > 115:
						return 1
					case v < 85:
						return 2
					}
					return 0
				}, Hides: []string{"scatter p50", "scatter p99"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "scatter-grows", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := ratioPct(r, "scatter_p50_ms_s8", "scatter_p50_ms_s2")
					return ok && v >= 130
				}},
				{ID: "denorm-one-read", Check: func(r *chapters.Run, _ *lab) bool {
					for _, n := range []string{"2", "4", "8"} {
						d, ok1 := fact(r, "denorm_p50_ms_s"+n)
						s, ok2 := fact(r, "scatter_p50_ms_s"+n)
						if ok1 && ok2 && d < s {
							return true
						}
					}
					return false
				}},
				{ID: "fan-out", Check: func(r *chapters.Run, _ *lab) bool {
					v, ok := fact(r, "fanout_rows_per_post")
					p, ok1 := fact(r, "post_p50_ms_denorm")
					s, ok2 := fact(r, "post_p50_ms_scatter")
					return ok && ok1 && ok2 && v > 1 && p > s
				}},
			},
		},
	}
}

// movedNearTheory: a shard added under the strategy moved a share of rows
// within 10 points of theory, with nothing lost.
func movedNearTheory(r *chapters.Run, strat string) bool {
	m, ok1 := fact(r, "moved_pct_"+strat)
	t, ok2 := fact(r, "theory_pct_"+strat)
	return ok1 && ok2 && m-t <= 10 && t-m <= 10 && r.Facts["lost_rows_"+strat] == 0
}

// lesson is the report's lesson for a step: its latched facts and the
// shards' own figures.
func lesson(r *chapters.Run, l *lab) map[string]any {
	out := kit.FactsLesson(r)
	rows := map[string]any{}
	for _, s := range l.primaries() {
		rows[s.Name()] = float64(s.Rows())
	}
	out["rows_by_shard"] = rows
	wps := map[string]any{}
	for _, k := range []string{"1", "1_r2", "2", "4"} {
		if v, ok := r.Facts["writes_per_s_"+k]; ok {
			wps[k] = v
		}
	}
	out["writes_per_s_by_shards"] = wps
	var moves []any
	var moved, lost float64
	var last *shard.Move
	for _, m := range l.rt.Moves() {
		moves = append(moves, map[string]any{"from": float64(m.From), "to": float64(m.To), "before": m.Before, "after": m.After,
			"rows": float64(m.Total), "moved_rows": float64(m.Moved), "moved_ratio": round3(m.Ratio()), "moved_ratio_theory": round3(m.Theory),
			"reshard_s": chapters.Round1(m.Seconds()), "kept_writes": float64(m.Kept), "lost_rows": float64(m.Lost),
			"misplaced_rows": float64(m.Misplaced), "duplicate_rows": float64(m.Duplicates), "checked": m.Checked})
		moved += float64(m.Moved)
		lost += float64(m.Lost)
		if m.Checked {
			m := m
			last = &m
		}
	}
	out["moves"] = moves
	failed := map[string]any{}
	l.failMu.Lock()
	for k, v := range l.failed {
		failed[k] = float64(v)
	}
	l.failMu.Unlock()
	out["failed_by_shard"] = failed
	if fos := l.rt.Failovers(); len(fos) > 0 {
		var list []any
		for _, f := range fos {
			list = append(list, map[string]any{"dead": f.Dead, "promoted": f.Promoted, "at_s": chapters.Round1(f.At.Seconds()),
				"unapplied_writes": float64(f.Behind), "lost_rows": float64(f.Lost)})
		}
		out["failovers"] = list
	}
	out["moved_rows"], out["lost_rows"] = moved, lost
	if last != nil {
		out["moved_ratio"], out["moved_ratio_theory"], out["reshard_s"] = round3(last.Ratio()), round3(last.Theory), chapters.Round1(last.Seconds())
	}
	sec := kit.SecOf(l.sys.Clock.Now())
	if _, share, ok := l.busiest(sec-window, sec, false); ok {
		out["hot_shard_share_ratio"] = round3(share)
	}
	return out
}

// round3 rounds a ratio to three decimals.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
