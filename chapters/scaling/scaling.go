package scaling

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"time"

	"scalelab/engine"
)

// scalingWork is heavy web work, so one machine's ceiling is reachable with
// a few presses of + or a spike, and low enough (about 690 req/s at the
// largest size, modelled) that the process itself is not what saturates.
func scalingWork() engine.WorkModel {
	return engine.WorkModel{Web: 45 * time.Millisecond, Read: 2 * time.Millisecond, Feed: 8 * time.Millisecond, Write: 10 * time.Millisecond}
}

func scalingMix() engine.Mix {
	return engine.Mix{engine.OpPage: 60, engine.OpRead: 30, engine.OpWrite: 10}
}

// meanWork is the mean modelled work of a request under a mix.
func meanWork(w engine.WorkModel, m engine.Mix) time.Duration {
	var sum, total float64
	for op, wt := range m {
		sum += wt * float64(w.Web+w.Data(op))
		total += wt
	}
	return time.Duration(sum / total)
}

// scaleUp is the scale-up step's topology: one sized app server.
type scaleUp struct {
	app  *web.AppNode
	mean time.Duration // mean modelled work of a request
}

// capacity is what the app's current size can serve (modelled: workers over
// the mean work of a request).
func (t *scaleUp) capacity() float64 { return float64(t.app.Size().Workers) / t.mean.Seconds() }

// killOf finds the newest kill of a node whose name starts with prefix.
func killOf(r *chapters.Run, prefix string) (engine.Event, bool) {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if e := r.Events[i]; e.Kind == engine.EvKill && strings.HasPrefix(e.Node, prefix) {
			return e, true
		}
	}
	return engine.Event{}, false
}

// upAfter finds the first time node came up after t.
func upAfter(r *chapters.Run, node string, t time.Duration) (engine.Event, bool) {
	for _, e := range r.Events {
		if e.Kind == engine.EvUp && e.Node == node && e.T > t {
			return e, true
		}
	}
	return engine.Event{}, false
}

// Scaling is chapter 2: scale up until the ceiling, the single point of
// failure, and scale out without an entry point.
func Scaling() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "scaling",
		Number: 2,
		Lesson: kit.FactsLesson,
		Steps: []chapters.Step{
			chapters.StepOf[*scaleUp]{
				ID: "scale-up",
				Build: func(sys *engine.System, opt chapters.Options) (*scaleUp, error) {
					app, err := kit.AddApp(sys, "app-1", "small", scalingWork(), opt.Seed)
					if err != nil {
						return nil, err
					}
					// 30 req/s is under the small size's capacity (about 43,
					// modelled): the learner's + presses are what saturate it
					if err := kit.StartLoad(sys, opt, 30, scalingMix(), app.URL); err != nil {
						return nil, err
					}
					kit.SizeKnob(sys, "app.size", app.Sized)
					t := &scaleUp{app: app, mean: meanWork(scalingWork(), scalingMix())}
					ring := kit.NewRing(3 * time.Second)
					sys.AddGauges(func() []engine.Gauge {
						// served is what came back answered (the app is the
						// only server): a request turned away from a full
						// queue, or still waiting in it, is not served. The
						// turned-away ones show on the chart as failed, queue
						// full.
						ring.Add(sys.Clock.Now(), float64(sys.Load.Totals().OK))
						out := []engine.Gauge{}
						if dv, span, ok := ring.Delta(2 * time.Second); ok {
							out = append(out, engine.Gauge{Name: "served", Value: chapters.Round1(kit.PerSec(dv[0], span)), Unit: "req/s"})
						}
						return append(out,
							engine.Gauge{Name: "capacity", Value: chapters.Round1(t.capacity()), Unit: "req/s", Modelled: true},
							engine.Gauge{Name: "cost", Value: app.Size().CostHour, Unit: "$/h", Modelled: true})
					})
					return t, nil
				},
				Keys: []chapters.Key{{Key: "z", Help: "size", Knob: "app.size"}},
				// 150 req/s overloads the small size (about 43 req/s, modelled);
				// the largest serves it, and saturates past about 690
				Solution: chapters.Solution{Script: "3s rate 150\n8s set app.size 2xlarge\n14s rate 1000", For: 20 * time.Second},
				Watch: func(r *chapters.Run, t *scaleUp) {
					sizes := engine.Sizes()
					cur := r.KnobAt("app.size", r.Now())
					for i := 1; i < len(sizes); i++ {
						if sizes[i].Name == cur {
							r.Facts["cost_factor_per_size"] = chapters.Round1(sizes[i].CostHour / sizes[i-1].CostHour)
						}
					}
					largest := sizes[len(sizes)-1]
					if cur != largest.Name {
						return
					}
					r.Facts["cost_per_hour_largest"] = largest.CostHour
					r.Facts["capacity_rps_largest"] = chapters.Round1(t.capacity())
					for _, p := range r.Series {
						at := time.Duration(p.Sec) * time.Second
						if r.KnobAt("app.size", at) != largest.Name || r.KnobAt("app.size", at-2*time.Second) != largest.Name {
							continue
						}
						if float64(p.OK) > r.Facts["max_ok_rps_largest"] {
							r.Facts["max_ok_rps_largest"] = float64(p.OK)
						}
						// the ceiling: a full second in which more arrived than
						// the largest size can serve, and it turned requests
						// away (what it did serve is on the served gauge)
						if p.Failed > 0 && float64(p.Sent) >= t.capacity() {
							r.Facts["saturated_at_largest"] = 1
						}
					}
				},
				Prediction: &chapters.PredictionOf[*scaleUp]{ID: "cost-double", Choices: 3, Unit: "×",
					Measured: kit.FactMeasured[*scaleUp]("cost_factor_per_size"),
					Correct: func(v float64) int {
						switch {
						case v < 1.9:
							return 0
						case v <= 2.1:
							return 1
						}
						return 2
					}},
				Objectives: []chapters.ObjectiveOf[*scaleUp]{
					{ID: "grow", Check: func(r *chapters.Run, t *scaleUp) bool { return r.KnobAt("app.size", r.Now()) == "2xlarge" }},
					{ID: "ceiling", Check: func(r *chapters.Run, t *scaleUp) bool { return r.Facts["saturated_at_largest"] == 1 }},
				},
			}.Step(),
			chapters.StepOf[*engine.System]{
				ID:     "spof",
				Select: "app-1",
				Build: func(sys *engine.System, opt chapters.Options) (*engine.System, error) {
					app, err := kit.AddApp(sys, "app-1", "large", scalingWork(), opt.Seed)
					if err != nil {
						return nil, err
					}
					return sys, kit.StartLoad(sys, opt, 100, scalingMix(), app.URL)
				},
				Solution: chapters.Solution{Script: "3s kill app-1\n8s restart app-1", For: 24 * time.Second},
				Watch: func(r *chapters.Run, t *engine.System) {
					kill, ok := killOf(r, "app-1")
					if !ok {
						return
					}
					from, to := kit.SecOf(kill.T)+1, r.Seconds()
					if up, ok := upAfter(r, "app-1", kill.T); ok {
						to = kit.SecOf(up.T)
						r.Facts["outage_s"] = chapters.Round1((up.T - kill.T).Seconds())
					}
					if to-from >= 2 {
						if p, ok := kit.FailedPct(r, from, to); ok {
							r.Facts["outage_failed_pct"] = chapters.Round1(p)
						}
					}
				},
				Prediction: &chapters.PredictionOf[*engine.System]{ID: "outage-share", Unit: "%", Measured: kit.FactMeasured[*engine.System]("outage_failed_pct")},
				Objectives: []chapters.ObjectiveOf[*engine.System]{
					{ID: "kill", Check: func(r *chapters.Run, t *engine.System) bool { _, ok := killOf(r, "app-1"); return ok }},
					{ID: "recover", Check: func(r *chapters.Run, t *engine.System) bool {
						kill, ok := killOf(r, "app-1")
						if !ok {
							return false
						}
						up, ok := upAfter(r, "app-1", kill.T)
						if !ok {
							return false
						}
						from := kit.SecOf(up.T) + 1
						if r.Seconds() < from+10 {
							return false
						}
						_, ok2, failed, _ := r.Window(from, from+10)
						return ok2 > 0 && failed == 0
					}},
				},
			}.Step(),
			chapters.StepOf[*engine.System]{
				ID: "scale-out",
				Build: func(sys *engine.System, opt chapters.Options) (*engine.System, error) {
					db, err := kit.AddDB(sys, "db-1", "xlarge", scalingWork(), sqldb.DefaultShape(), opt.Seed)
					if err != nil {
						return nil, err
					}
					var webs []engine.Node
					for _, name := range []string{"web-1", "web-2", "web-3"} {
						w, err := kit.AddWeb(sys, name, "large", scalingWork(), false, db, nil)
						if err != nil {
							return nil, err
						}
						webs = append(webs, w)
					}
					return sys, kit.StartLoad(sys, opt, 300, scalingMix(), kit.RandomEntry(opt.Seed, webs...))
				},
				Solution: chapters.Solution{Script: "2s kill web-2", For: 14 * time.Second},
				Watch: func(r *chapters.Run, t *engine.System) {
					kill, ok := killOf(r, "web-")
					if !ok {
						return
					}
					from := kit.SecOf(kill.T) + 1
					if r.Seconds() >= from+10 {
						if p, ok := kit.FailedPct(r, from, from+10); ok {
							r.Facts["scale_out_failed_pct"] = chapters.Round1(p)
						}
					}
				},
				Prediction: &chapters.PredictionOf[*engine.System]{ID: "out-share", Unit: "%", Measured: kit.FactMeasured[*engine.System]("scale_out_failed_pct")},
				Objectives: []chapters.ObjectiveOf[*engine.System]{
					{ID: "kill-one", Check: func(r *chapters.Run, t *engine.System) bool { _, ok := r.Facts["scale_out_failed_pct"]; return ok }},
				},
			}.Step(),
		},
	}
}
