package chapters

import (
	"fmt"
	"math"
	"math/rand/v2"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// Mixes of request kinds the chapters use.
func steadyMix() engine.Mix {
	return engine.Mix{engine.OpPage: 60, engine.OpRead: 25, engine.OpFeed: 10, engine.OpWrite: 5}
}

func dataHeavyMix() engine.Mix {
	return engine.Mix{engine.OpPage: 30, engine.OpRead: 10, engine.OpFeed: 30, engine.OpWrite: 30}
}

// startLoad installs the generator on a system.
func startLoad(sys *engine.System, opt Options, rate float64, mix engine.Mix, entry func() string) error {
	cfg := engine.DefaultLoadConfig()
	cfg.Rate = rate
	if opt.Rate > 0 {
		cfg.Rate = opt.Rate
	}
	cfg.Mix = mix
	cfg.Entry = entry
	cfg.Seed = opt.Seed
	cfg.Keys = sqldb.DefaultShape().Users
	l, err := engine.NewLoad(cfg, sys.Clock)
	if err != nil {
		return err
	}
	sys.SetLoad(l)
	return nil
}

// choiceKnob is a knob whose value is one of values: Set checks it, applies
// it and remembers it for Get.
func choiceKnob(name string, values []string, initial string, apply func(v string) error) *engine.Knob {
	var cur atomic.Value
	cur.Store(initial)
	return &engine.Knob{
		Name:   name,
		Values: values,
		Get:    func() string { return cur.Load().(string) },
		Set: func(v string) error {
			if !slices.Contains(values, v) {
				return fmt.Errorf("%s %q: have %s", name, v, strings.Join(values, ", "))
			}
			if err := apply(v); err != nil {
				return err
			}
			cur.Store(v)
			return nil
		},
	}
}

// mixKnob lets a key switch the load between steady and data-heavy.
func mixKnob(sys *engine.System) {
	sys.AddKnob(choiceKnob("load.mix", []string{"steady", "data-heavy"}, "steady", func(v string) error {
		if v == "steady" {
			sys.Load.SetMix(steadyMix())
		} else {
			sys.Load.SetMix(dataHeavyMix())
		}
		return nil
	}))
}

// sizeKnob lets a key change a node's modelled machine size.
func sizeKnob(sys *engine.System, name string, z *engine.Sized) {
	sys.AddKnob(&engine.Knob{
		Name:   name,
		Values: engine.SizeNames(),
		Get:    func() string { return z.Size().Name },
		Set:    z.Resize,
	})
}

func addApp(sys *engine.System, name, size string, work engine.WorkModel, seed int64) (*web.AppNode, error) {
	n, err := web.NewAppNode(sys, web.AppConfig{Name: name, Size: size, Work: work, Shape: sqldb.DefaultShape(), Seed: seed})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

func addDB(sys *engine.System, name, size string, work engine.WorkModel, shape sqldb.DataShape, seed int64) (*sqldb.DBNode, error) {
	n, err := sqldb.NewDBNode(sys, sqldb.DBConfig{Name: name, Size: size, Work: work, Shape: shape, Seed: seed})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

// addWeb adds a web server that talks to db through a new link.
func addWeb(sys *engine.System, name, size string, work engine.WorkModel, private bool, db *sqldb.DBNode, meter *engine.Meter) (*web.WebNode, error) {
	store := engine.Store(sqldb.NewDBClient(sys, db, sys.AddLink(name, db.Name()), meter))
	n, err := web.NewWebNode(sys, web.WebConfig{Name: name, Size: size, Work: work, Private: private, Store: func() engine.Store { return store }})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

// randomEntry picks one server per request, as clients given several DNS
// records do; they do not know which servers are alive.
func randomEntry(seed int64, nodes ...engine.Node) func() string {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	return func() string {
		mu.Lock()
		n := nodes[rng.IntN(len(nodes))]
		mu.Unlock()
		return "http://" + n.Addr()
	}
}

// gauge helpers

func msGauge(name string, d time.Duration) engine.Gauge {
	return engine.Gauge{Name: name, Value: engine.Ms(d), Unit: "ms"}
}

// opP99 is the recent p99 of one kind of request as the users saw it.
func opP99(sys *engine.System, op engine.Op) time.Duration {
	_, q := sys.Load.OpRecent(op)
	return q.P99
}

// pct is 100*a/b, 0 when b is 0.
func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// round1 rounds to one decimal for reports, or to two below 10 so that
// sub-millisecond figures keep their meaning.
func round1(v float64) float64 {
	if v < 10 && v > -10 {
		return math.Round(v*100) / 100
	}
	return math.Round(v*10) / 10
}

// secOf is the load second a lab time falls in.
func secOf(t time.Duration) int { return int(t / time.Second) }

// failedPct is the share of finished requests that failed in load seconds
// [from, to), and whether any finished.
func failedPct(r *Run, from, to int) (float64, bool) {
	ratio, n := r.FailRatio(from, to)
	return 100 * ratio, n > 0
}
