package queue

import (
	"context"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	mq "scalelab/engine/queue"
)

// fact reports a latched fact.
func fact(r *chapters.Run, key string) (float64, bool) {
	v, ok := r.Facts[key]
	return v, ok
}

// Queue is chapter 9: work that need not happen now goes on a queue.
func Queue() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "queue",
		Number: 9,
		Lesson: kit.FactsLesson,
		// figures of a step's own run: the debrief, which sums the chapter
		// up, leaves them out
		RunTotals: []string{"enqueued", "acked", "lost", "redelivered", "duplicates", "double_effects", "dead_lettered",
			"depth", "max_depth", "drain_s", "appended", "lag_by_group", "replayed", "out_of_order", "skipped_events", "applied_twice"},
		Steps: chapters.Steps(queueSteps()...),
	}
}

// lesson is the report's lesson for a step: its latched facts and the
// queue's own counters.
func lesson(r *chapters.Run, l *lab) map[string]any {
	out := kit.FactsLesson(r)
	if l.q != nil {
		st := l.q.Audit(context.Background())
		f := func(n int64) float64 { return float64(n) }
		out["enqueued"], out["acked"], out["lost"] = f(st.Enqueued), f(st.Acked), f(st.Lost)
		out["redelivered"], out["duplicates"], out["double_effects"] = f(st.Redelivered), f(st.Duplicates), f(st.DoubleEffects)
		out["dead_lettered"], out["depth"] = f(st.DeadLettered), f(st.Depth)
		if d, ok := r.Facts["spike_drain_s"]; ok {
			out["drain_s"] = d // the latest spike's, by the name the report gives it
		}
		out["max_depth"] = f(st.MaxDepth)
	}
	if l.log != nil {
		lag := map[string]any{}
		var replayed, ooo, gaps, twice int64
		for _, g := range l.log.Groups() {
			_ = g.Refresh(context.Background())
			st := g.State()
			sk, tw := g.Gaps(context.Background())
			gaps += sk
			twice += tw
			lag[st.Name] = float64(st.Lag)
			replayed += st.Replayed
			for _, n := range st.OutOfOrder {
				ooo += n
			}
		}
		out["appended"], out["lag_by_group"], out["replayed"], out["out_of_order"] = float64(l.log.Appended()), lag, float64(replayed), float64(ooo)
		// every group against the log: kept events before its latest that
		// it skipped, and events it applied more than once
		out["skipped_events"], out["applied_twice"] = float64(gaps), float64(twice)
	}
	return out
}

// the events of one order on the log
var (
	oneEvent    = []string{"completed"}
	threeEvents = []string{"created", "paid", "shipped"}
)

// queueSteps are the chapter's steps, typed.
func queueSteps() []chapters.StepOf[*lab] {
	return []chapters.StepOf[*lab]{
		{
			ID: "absorb",
			Build: step(tune{work: true, mode: mq.ModeInline, workers: 2, knobs: []string{"queue.mode", "queue.workers"},
				lead: []string{"orders p50", "waiting", "drain", "depth", "max depth", "workers up"}}),
			Keys: []chapters.Key{
				{Key: "m", Help: "inline or queued", Knob: "queue.mode"},
				{Key: "w", Help: "workers", Knob: "queue.workers"},
			},
			Solution: chapters.Solution{Script: "2s spike 5x 10s\n20s set queue.mode queued\n24s spike 5x 10s\n80s set queue.workers 4\n82s spike 5x 10s",
				For: 100 * time.Second},
			Watch: watch, Lesson: lesson,
			Owns: []string{"drain_s_w2", "spike_failed_pct_inline"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "spike-drain", Choices: 3, Unit: "s",
				Measured: kit.FactMeasured[*lab]("drain_s_w2"), Correct: func(v float64) int {
					switch {
					case v < 3:
						return 0
					case v <= 18:
						return 1
					}
					return 2
				}, Hides: []string{"drain"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "inline", Check: func(r *chapters.Run, _ *lab) bool {
					f, ok1 := fact(r, "spike_failed_pct_inline")
					p, ok2 := fact(r, "spike_p50_ms_inline")
					b, ok3 := fact(r, "before_p50_ms_inline")
					return ok1 && ok2 && ok3 && (f >= 5 || p >= 3*b)
				}},
				{ID: "queued", Check: func(r *chapters.Run, _ *lab) bool {
					f, ok1 := fact(r, "spike_failed_pct_queued")
					_, ok2 := fact(r, "spike_drain_s")
					d, ok3 := fact(r, "max_depth")
					return ok1 && ok2 && ok3 && f < 1 && d > 0 && r.Facts["lost"] == 0
				}},
				{ID: "workers", Check: func(r *chapters.Run, _ *lab) bool {
					two, ok := fact(r, "drain_s_w2")
					if !ok {
						return false
					}
					for _, n := range workerValues[2:] {
						if d, ok := fact(r, "drain_s_w"+n); ok && d < two {
							return true
						}
					}
					return false
				}},
			},
		},
		{
			ID: "ack-redelivery",
			Build: step(tune{work: true, mode: mq.ModeQueued, workers: 3, rate: 40, knobs: []string{"queue.idempotent"},
				lead: []string{"redelivered", "duplicates", "double effects", "dead letters", "lost", "in hand"}}),
			Keys: []chapters.Key{
				{Key: "d", Help: "kill a worker", Action: engine.ActKill, Target: "@random-worker"},
				{Key: "e", Help: "idempotent", Knob: "queue.idempotent"},
				{Key: "p", Help: "poison message", Action: mq.ActPoison, Target: "jobs"},
			},
			Solution: chapters.Solution{Script: "4s kill worker-1\n6s restart worker-1\n10s kill worker-2\n12s restart worker-2\n16s kill worker-3\n18s restart worker-3\n22s kill worker-1\n24s restart worker-1\n30s set queue.idempotent on\n34s kill worker-2\n36s restart worker-2\n40s kill worker-3\n42s restart worker-3\n46s kill worker-1\n48s restart worker-1\n52s kill worker-2\n54s restart worker-2\n56s poison",
				For: 82 * time.Second},
			Watch: watch, Lesson: lesson,
			Owns: []string{"redelivery_after_s", "duplicates_idem_off", "double_effects_idem_off", "duplicates_idem_on", "double_effects_idem_on"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "redelivery", Choices: 3, Unit: "s",
				Measured: kit.FactMeasured[*lab]("redelivery_after_s"), Correct: func(v float64) int {
					if v < 2 {
						return 1
					}
					return 2
				}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "redeliver", Check: func(r *chapters.Run, _ *lab) bool {
					n, ok := fact(r, "redelivered")
					return ok && n > 0 && r.Facts["lost"] == 0
				}},
				{ID: "double", Check: func(r *chapters.Run, _ *lab) bool { return r.Facts["double_effects_idem_off"] > 0 }},
				{ID: "idempotent", Check: func(r *chapters.Run, _ *lab) bool {
					return r.Facts["duplicates_idem_on"] > 0 && r.Facts["double_effects_idem_on"] == 0
				}},
				{ID: "poison", Check: func(r *chapters.Run, _ *lab) bool { return r.Facts["dead_lettered"] > 0 }},
			},
		},
		{
			ID: "event-log",
			Build: step(tune{log: true, mode: mq.ModeQueued, groups: services, events: oneEvent, knobs: []string{"queue.retention"},
				lead: []string{"analytics lag", "others' lag", "recommendations lag", "replay missed", "events kept"}}),
			Keys: []chapters.Key{
				{Key: "a", Help: "kill analytics", Action: engine.ActKill, Target: "analytics"},
				{Key: "A", Help: "restart analytics", Action: engine.ActRestart, Target: "analytics"},
				{Key: "c", Help: "add recommendations", Action: engine.ActAdd, Target: recommendations.Name},
				{Key: "t", Help: "retention", Knob: "queue.retention"},
				{Key: "y", Help: "replay recommendations", Action: mq.ActReplay, Target: recommendations.Name},
			},
			Select:   "analytics",
			Solution: chapters.Solution{Script: "3s kill analytics\n13s restart analytics\n22s add recommendations\n40s set queue.retention 300\n41s replay recommendations", For: 54 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"replayed_on_join"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "isolation", Choices: 3, Unit: "events",
				Measured: kit.FactMeasured[*lab]("others_lag_max"), Correct: func(v float64) int {
					if v <= 20 {
						return 1
					}
					return 0
				}, Hides: []string{"others' lag"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "isolation", Check: func(r *chapters.Run, _ *lab) bool {
					a, ok1 := fact(r, "analytics_lag_max")
					o, ok2 := fact(r, "others_lag_max")
					return ok1 && ok2 && a >= 100 && o <= 20
				}},
				{ID: "catch-up", Check: func(r *chapters.Run, _ *lab) bool {
					_, ok := fact(r, "catch_up_s")
					return ok && r.Facts["analytics_gaps"] == 0 && r.Facts["analytics_dups"] == 0
				}},
				{ID: "replay", Check: func(r *chapters.Run, _ *lab) bool {
					return r.Facts["replayed_on_join"] > 0 && r.Facts["replay_matches"] == 1
				}},
				{ID: "retention", Check: func(r *chapters.Run, _ *lab) bool {
					return r.Facts["replay_missed"] > 0 && r.Facts["reset_matches"] == 1
				}},
			},
		},
		{
			ID: "ordering",
			Build: step(tune{log: true, mode: mq.ModeQueued, events: threeEvents, knobs: []string{"queue.partitions"},
				groups: []mq.GroupConfig{{Name: "shipping", Consumers: 4, Batch: 1, Pace: 4 * time.Millisecond, Jitter: 30 * time.Millisecond, Poll: 10 * time.Millisecond}},
				lead:   []string{"out of order", "shipping lag"}}),
			Keys:     []chapters.Key{{Key: "P", Help: "partitions", Knob: "queue.partitions"}},
			Solution: chapters.Solution{Script: "16s set queue.partitions 4", For: 34 * time.Second},
			Watch:    watch, Lesson: lesson,
			Owns: []string{"out_of_order_pct_p1"},
			Prediction: &chapters.PredictionOf[*lab]{ID: "reorder", Choices: 3, Unit: "%",
				Measured: kit.FactMeasured[*lab]("out_of_order_pct_p1"), Correct: func(v float64) int {
					switch {
					case v == 0:
						return 0
					case v < 10:
						return 1
					}
					return 2
				}, Hides: []string{"out of order"}},
			Objectives: []chapters.ObjectiveOf[*lab]{
				{ID: "one-stream", Check: func(r *chapters.Run, _ *lab) bool {
					n, ok := fact(r, "events_p1")
					return ok && n >= 300 && r.Facts["out_of_order_p1"] > 0
				}},
				{ID: "partitioned", Check: func(r *chapters.Run, _ *lab) bool {
					n, ok := fact(r, "events_p4")
					return ok && n >= 300 && r.Facts["out_of_order_p4"] == 0
				}},
			},
		},
	}
}
