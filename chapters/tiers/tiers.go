package tiers

import (
	"context"
	"fmt"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// tiersWork is the modelled work in chapter 1: data work (feeds and writes)
// is heavier than web work, as disk, locks and transactions are.
func tiersWork() engine.WorkModel {
	return engine.WorkModel{Web: 4 * time.Millisecond, Read: 1 * time.Millisecond, Feed: 8 * time.Millisecond, Write: 12 * time.Millisecond}
}

const tiersRate = 400

// warmUp is the start of a step the figures leave out: the first
// requests open connections and warm SQLite, and a p99 over them measures
// the start, not the mix (a steady baseline of 48 ms against 9 ms).
const warmUp = 2 * time.Second

// latchP99 records the recent p99 of an op as fact key while the knobs
// hold, once the recent window lies past the warm-up.
func latchP99(r *chapters.Run, key string, op engine.Op, kv ...string) {
	if r.Now() >= warmUp+kit.Settle && r.Held(kit.Settle, kv...) {
		if p := kit.OpP99(r.Sys, op); p > 0 {
			r.Facts[key] = chapters.Round1(engine.Ms(p))
		}
	}
}

func pageGauges(sys *engine.System) func() []engine.Gauge {
	return func() []engine.Gauge {
		var out []engine.Gauge
		for _, op := range []engine.Op{engine.OpPage, engine.OpFeed, engine.OpWrite} {
			if p := kit.OpP99(sys, op); p > 0 {
				out = append(out, kit.MsGauge(string(op)+" p99", p))
			}
		}
		return out
	}
}

// ratioChoice maps a ratio of p99s to: about the same (< 1.5×), a little
// (< 3×), a lot.
func ratioChoice(v float64) int {
	switch {
	case v < 1.5:
		return 0
	case v < 3:
		return 1
	}
	return 2
}

// Tiers is chapter 1: one server doing web and data work, split into tiers;
// SQL vs key-value on the same data.
func Tiers() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "tiers",
		Number: 1,
		Lesson: kit.FactsLesson,
		Steps: []chapters.Step{
			chapters.StepOf[*engine.System]{
				ID:     "one-box",
				Select: "app-1",
				Build: func(sys *engine.System, opt chapters.Options) (*engine.System, error) {
					app, err := kit.AddApp(sys, "app-1", "medium", tiersWork(), opt.Seed)
					if err != nil {
						return nil, err
					}
					if err := kit.StartLoad(sys, opt, tiersRate, kit.SteadyMix(), app.URL); err != nil {
						return nil, err
					}
					kit.MixKnob(sys)
					sys.AddGauges(pageGauges(sys))
					return sys, nil
				},
				Keys:     []chapters.Key{{Key: "m", Help: "mix", Knob: "load.mix"}},
				Solution: chapters.Solution{Script: "12s set load.mix data-heavy", For: 24 * time.Second},
				Watch: func(r *chapters.Run, t *engine.System) {
					latchP99(r, "page_p99_ms_one_box_steady", engine.OpPage, "load.mix", "steady")
					latchP99(r, "page_p99_ms_one_box", engine.OpPage, "load.mix", "data-heavy")
				},
				Prediction: &chapters.PredictionOf[*engine.System]{ID: "page-p99", Choices: 3, Unit: "×",
					Measured: kit.FactRatio[*engine.System]("page_p99_ms_one_box", "page_p99_ms_one_box_steady"), Correct: ratioChoice},
				Objectives: []chapters.ObjectiveOf[*engine.System]{
					{ID: "steady", Check: func(r *chapters.Run, t *engine.System) bool {
						return r.KnobTime("load.mix", "steady") >= 10*time.Second
					}},
					{ID: "data-heavy", Check: func(r *chapters.Run, t *engine.System) bool {
						_, ok := r.Facts["page_p99_ms_one_box"]
						return ok && r.KnobTime("load.mix", "data-heavy") >= 10*time.Second
					}},
				},
			}.Step(),
			chapters.StepOf[*engine.System]{
				ID: "split",
				Build: func(sys *engine.System, opt chapters.Options) (*engine.System, error) {
					db, err := kit.AddDB(sys, "db-1", "small", tiersWork(), sqldb.DefaultShape(), opt.Seed)
					if err != nil {
						return nil, err
					}
					web, err := kit.AddWeb(sys, "web-1", "medium", tiersWork(), false, db, nil)
					if err != nil {
						return nil, err
					}
					if err := kit.StartLoad(sys, opt, tiersRate, kit.SteadyMix(), web.URL); err != nil {
						return nil, err
					}
					kit.MixKnob(sys)
					kit.SizeKnob(sys, "db.size", db.Sized)
					sys.AddGauges(pageGauges(sys))
					return sys, nil
				},
				Keys:     []chapters.Key{{Key: "m", Help: "mix", Knob: "load.mix"}, {Key: "d", Help: "db size", Knob: "db.size"}},
				Solution: chapters.Solution{Script: "10s set load.mix data-heavy\n22s set db.size medium", For: 31 * time.Second},
				Watch: func(r *chapters.Run, t *engine.System) {
					latchP99(r, "page_p99_ms_split_steady", engine.OpPage, "load.mix", "steady")
					// pages against the step's own small database: a bigger one
					// runs more real queries at once, on the same CPU as web-1
					latchP99(r, "page_p99_ms_split", engine.OpPage, "load.mix", "data-heavy", "db.size", "small")
					// feed p99 at each data tier size the learner tries
					if size := r.KnobAt("db.size", r.Now()); size != "" {
						latchP99(r, "feed_p99_ms_db_"+size, engine.OpFeed, "load.mix", "data-heavy", "db.size", size)
					}
				},
				Prediction: &chapters.PredictionOf[*engine.System]{ID: "split-page-p99", Choices: 3, Unit: "×",
					Measured: kit.FactRatio[*engine.System]("page_p99_ms_split", "page_p99_ms_split_steady"), Correct: ratioChoice},
				Objectives: []chapters.ObjectiveOf[*engine.System]{
					{ID: "data-heavy-split", Check: func(r *chapters.Run, t *engine.System) bool {
						_, ok := r.Facts["page_p99_ms_split"]
						return ok && r.KnobTime("load.mix", "data-heavy") >= 10*time.Second
					}},
					{ID: "size-db", Check: func(r *chapters.Run, t *engine.System) bool {
						small, ok := r.Facts["feed_p99_ms_db_small"]
						for _, size := range engine.SizeNames()[1:] {
							if sized, ok2 := r.Facts["feed_p99_ms_db_"+size]; ok && ok2 && sized < small {
								return true
							}
						}
						return false
					}},
				},
			}.Step(),
			chapters.StepOf[[]storeMeter]{
				ID:       "sql-vs-kv",
				Build:    buildSQLvsKV,
				Keys:     []chapters.Key{{Key: "v", Help: "store", Knob: "data.store"}},
				Solution: chapters.Solution{Script: "8s set data.store kv", For: 16 * time.Second},
				Watch: func(r *chapters.Run, t []storeMeter) {
					for _, m := range t {
						for _, op := range []engine.Op{engine.OpRead, engine.OpFeed, engine.OpWrite} {
							if q := m.meter.Quantiles(op); q.N > 0 {
								r.Facts[fmt.Sprintf("%s_%s_p50_ms", m.name, op)] = chapters.Round1(engine.Ms(q.P50))
								r.Facts["n_"+m.name+"_"+string(op)] = float64(q.N)
							}
						}
					}
				},
				Prediction: &chapters.PredictionOf[[]storeMeter]{ID: "feed-faster", Choices: 3, Unit: "×",
					Measured: kit.FactRatio[[]storeMeter]("kv_feed_p50_ms", "sql_feed_p50_ms"),
					Correct: func(v float64) int {
						switch {
						case v < 0.8:
							return 1 // key-value list
						case v > 1.25:
							return 0 // SQL join
						}
						return 2
					}},
				Objectives: []chapters.ObjectiveOf[[]storeMeter]{
					{ID: "both-stores", Check: func(r *chapters.Run, t []storeMeter) bool {
						return r.Facts["n_sql_feed"] >= 200 && r.Facts["n_kv_feed"] >= 200
					}},
					{ID: "write-cost", Check: func(r *chapters.Run, t []storeMeter) bool {
						return r.Facts["n_sql_write"] >= 50 && r.Facts["n_kv_write"] >= 50
					}},
				},
			}.Step(),
		},
	}
}

// storeMeter is a store's latency meter, as the web tier measures it.
type storeMeter struct {
	name  string
	meter *engine.Meter
}

// kvShape is larger than the default so a join has real work to do.
func kvShape() sqldb.DataShape {
	return sqldb.DataShape{Users: 1000, PostsPerUser: 20, Follows: 30, FeedLen: 20}
}

func buildSQLvsKV(sys *engine.System, opt chapters.Options) ([]storeMeter, error) {
	shape := kvShape()
	// No modelled work here: both stores are measured as they really are.
	db, err := kit.AddDB(sys, "db-1", "2xlarge", engine.WorkModel{}, shape, opt.Seed)
	if err != nil {
		return nil, err
	}
	kvNode, err := kv.NewKVNode(sys, "kv-1")
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(kvNode); err != nil {
		return nil, err
	}
	sqlMeter, kvMeter := engine.NewMeter(sys.Clock), engine.NewMeter(sys.Clock)
	sqlStore := engine.Store(sqldb.NewDBClient(sys, db, sys.AddLink("web-1", "db-1"), sqlMeter))
	kvStore := kv.NewKVStore(sys, kvNode, sys.AddLink("web-1", "kv-1"), kvMeter, shape)
	if err := kvStore.LoadFrom(context.Background(), db.Data); err != nil {
		return nil, fmt.Errorf("load kv-1: %w", err)
	}
	var useKV atomic.Bool
	web, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "xlarge", Work: engine.WorkModel{Web: time.Millisecond}, Store: func() engine.Store {
		if useKV.Load() {
			return kvStore
		}
		return sqlStore
	}})
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(web); err != nil {
		return nil, err
	}
	meters := []storeMeter{{"sql", sqlMeter}, {"kv", kvMeter}}
	sys.AddKnob(engine.NewKnob("data.store", []string{"sql", "kv"}, "sql", func(v string) error { useKV.Store(v == "kv"); return nil }))
	sys.AddGauges(func() []engine.Gauge {
		var out []engine.Gauge
		for _, op := range []engine.Op{engine.OpFeed, engine.OpWrite, engine.OpRead} {
			for _, m := range meters {
				if q := m.meter.Quantiles(op); q.N > 0 {
					out = append(out, kit.MsGauge(m.name+" "+string(op)+" p50", q.P50))
				}
			}
		}
		return out
	})
	mix := engine.Mix{engine.OpRead: 40, engine.OpFeed: 40, engine.OpWrite: 20}
	cfgRate := 200.0
	return meters, kit.StartLoad(sys, chapters.Options{Rate: opt.Rate, Seed: opt.Seed}, cfgRate, mix, web.URL)
}
