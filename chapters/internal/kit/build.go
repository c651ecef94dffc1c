package kit

import (
	"math/rand/v2"
	"scalelab/chapters"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
)

// Mixes of request kinds the chapters use.
func SteadyMix() engine.Mix {
	return engine.Mix{engine.OpPage: 60, engine.OpRead: 25, engine.OpFeed: 10, engine.OpWrite: 5}
}

func dataHeavyMix() engine.Mix {
	return engine.Mix{engine.OpPage: 30, engine.OpRead: 10, engine.OpFeed: 30, engine.OpWrite: 30}
}

// StartLoad installs the generator on a system.
func StartLoad(sys *engine.System, opt chapters.Options, rate float64, mix engine.Mix, entry func() string) error {
	return StartLoadPatient(sys, opt, rate, mix, entry, 0)
}

// StartLoadPatient is StartLoad with the clients' patience (the request
// timeout, in lab time) set, for a load with long requests; 0 keeps the
// default.
func StartLoadPatient(sys *engine.System, opt chapters.Options, rate float64, mix engine.Mix, entry func() string, timeout time.Duration) error {
	cfg := engine.DefaultLoadConfig()
	if timeout > 0 {
		cfg.Timeout = timeout
	}
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

// MixKnob lets a key switch the load between steady and data-heavy.
func MixKnob(sys *engine.System) {
	sys.AddKnob(engine.NewKnob("load.mix", []string{"steady", "data-heavy"}, "steady", func(v string) error {
		if v == "steady" {
			sys.Load.SetMix(SteadyMix())
		} else {
			sys.Load.SetMix(dataHeavyMix())
		}
		return nil
	}))
}

// SizeKnob lets a key change a node's modelled machine size.
func SizeKnob(sys *engine.System, name string, z *engine.Sized) {
	sys.AddKnob(engine.NewKnob(name, engine.SizeNames(), z.Size().Name, z.Resize))
}

func AddApp(sys *engine.System, name, size string, work engine.WorkModel, seed int64) (*web.AppNode, error) {
	n, err := web.NewAppNode(sys, web.AppConfig{Name: name, Size: size, Work: work, Shape: sqldb.DefaultShape(), Seed: seed})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

func AddDB(sys *engine.System, name, size string, work engine.WorkModel, shape sqldb.DataShape, seed int64) (*sqldb.DBNode, error) {
	n, err := sqldb.NewDBNode(sys, sqldb.DBConfig{Name: name, Size: size, Work: work, Shape: shape, Seed: seed})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

// AddWeb adds a web server that talks to db through a new link.
func AddWeb(sys *engine.System, name, size string, work engine.WorkModel, private bool, db *sqldb.DBNode, meter *engine.Meter) (*web.WebNode, error) {
	store := engine.Store(sqldb.NewDBClient(sys, db, sys.AddLink(name, db.Name()), meter))
	n, err := web.NewWebNode(sys, web.WebConfig{Name: name, Size: size, Work: work, Private: private, Store: func() engine.Store { return store }})
	if err != nil {
		return nil, err
	}
	return n, sys.AddNode(n)
}

// RandomEntry picks one server per request, as clients given several DNS
// records do; they do not know which servers are alive.
func RandomEntry(seed int64, nodes ...engine.Node) func() string {
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

func MsGauge(name string, d time.Duration) engine.Gauge {
	return engine.Gauge{Name: name, Value: engine.Ms(d), Unit: "ms"}
}

// OpP99 is the recent p99 of one kind of request as the users saw it.
func OpP99(sys *engine.System, op engine.Op) time.Duration {
	_, q := sys.Load.OpRecent(op)
	return q.P99
}

// SecOf is the load second a lab time falls in.
func SecOf(t time.Duration) int { return int(t / time.Second) }

// FailedPct is the share of finished requests that failed in load seconds
// [from, to), and whether any finished.
func FailedPct(r *chapters.Run, from, to int) (float64, bool) {
	ratio, n := r.FailRatio(from, to)
	return 100 * ratio, n > 0
}

// FactRatio measures a/b from two latched facts.
func FactRatio[T any](a, b string) func(r *chapters.Run, _ T) (float64, bool) {
	return func(r *chapters.Run, _ T) (float64, bool) {
		x, ok1 := r.Facts[a]
		y, ok2 := r.Facts[b]
		if !ok1 || !ok2 || y <= 0 {
			return 0, false
		}
		return chapters.Round1(x / y), true
	}
}

// FactsLesson reports every latched fact except the sample counts.
func FactsLesson(r *chapters.Run) map[string]any {
	out := map[string]any{}
	for k, v := range r.Facts {
		if len(k) > 2 && k[:2] == "n_" {
			continue
		}
		out[k] = v
	}
	return out
}

// Settle is how long a setting must hold before its figures are latched:
// the gauges cover the last 5 s.
const Settle = 6 * time.Second

func FactMeasured[T any](key string) func(r *chapters.Run, _ T) (float64, bool) {
	return func(r *chapters.Run, _ T) (float64, bool) {
		v, ok := r.Facts[key]
		return v, ok
	}
}

// FactName makes a fact key part from a knob value ("200ms" → "200ms",
// "semi-sync" → "semi_sync").
func FactName(v string) string { return strings.ReplaceAll(v, "-", "_") }

// LeadGauges moves the named gauges to the front, in that order: what a
// step is about is seen first on a small screen. A name matches a gauge
// of that name or one ending in it after a space ("lag" leads "db-2 lag"
// and "db-3 lag").
func LeadGauges(gs []engine.Gauge, names ...string) []engine.Gauge {
	matches := func(g engine.Gauge, n string) bool { return g.Name == n || strings.HasSuffix(g.Name, " "+n) }
	led := make([]bool, len(gs))
	out := make([]engine.Gauge, 0, len(gs))
	for _, n := range names {
		for i, g := range gs {
			if !led[i] && matches(g, n) {
				out = append(out, g)
				led[i] = true
			}
		}
	}
	for i, g := range gs {
		if !led[i] {
			out = append(out, g)
		}
	}
	return out
}
