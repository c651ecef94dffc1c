package cache

import (
	"fmt"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cache"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strconv"
	"strings"
	"time"

	"scalelab/engine"
)

// The cache chapter's load: reads dominate, as they do where a cache pays.
const cacheRate = 400

func cacheMix() engine.Mix { return engine.Mix{engine.OpRead: 90, engine.OpWrite: 10} }

// Knob values of the cache chapter.
var (
	cacheTTLs     = []string{"1s", "5s", "10s", "60s", "5m"}
	cacheMemories = []string{"16KB", "256KB", "4MB"}
	cacheKeyDists = []string{"zipf", "uniform"}
)

// cacheZipf is the key skew of "zipf": a few users are read far more than
// the rest.
const cacheZipf = 1.1

// hotKey is the cache key of the most read user under Zipf.
const hotKey = "read:0"

// cacheTune is what a step changes about the topology.
type cacheTune struct {
	users    int
	zipf     float64
	readWork time.Duration // modelled work of one database read
	dbSize   string
	ttl      string
	memory   string
	knobs    []string // the knobs the step shows
	lead     []string // the gauges the step shows first
}

func defaultCacheTune() cacheTune {
	return cacheTune{users: 10000, zipf: cacheZipf, readWork: 6 * time.Millisecond, dbSize: "medium", ttl: "60s", memory: "4MB"}
}

// cacheLab is one step's topology: web-1 reads through the cache nodes to
// db-1.
type cacheLab struct {
	sys   *engine.System
	store *cache.CacheStore
	gauge *kit.Ring // sampled by the gauges
	watch *kit.Ring // sampled by Watch
	tune  cacheTune

	// Watch's state between snapshots
	last     cacheCounts
	upAt     time.Duration // when cache-1 last came back from a restart, -1 none
	refilled bool          // its hit ratio is back
}

// cacheCounts are the cumulative counters a step samples.
type cacheCounts struct {
	hits, misses, dbReads, stale, evictions, refused, readOK, readBad float64
}

func (c cacheCounts) slice() []float64 {
	return []float64{c.hits, c.misses, c.dbReads, c.stale, c.evictions, c.refused, c.readOK, c.readBad}
}

func countsOf(v []float64) cacheCounts {
	return cacheCounts{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}
}

// minus is c - o, counter by counter.
func (c cacheCounts) minus(o cacheCounts) cacheCounts {
	a, b := c.slice(), o.slice()
	for i := range a {
		a[i] -= b[i]
	}
	return countsOf(a)
}

func (l *cacheLab) counts() cacheCounts {
	st := l.store.Stats()
	var ev, ref int64
	for _, c := range l.store.Caches() {
		cs := c.Stats()
		ev += cs.Evictions
		ref += cs.Refused
	}
	c := cacheCounts{hits: float64(st.Hits), misses: float64(st.Misses), dbReads: float64(st.DBReads), stale: float64(st.Stale), evictions: float64(ev), refused: float64(ref)}
	if l.sys.Load != nil {
		ok, bad, _ := l.sys.Load.OpStats(engine.OpRead)
		c.readOK, c.readBad = float64(ok), float64(bad)
	}
	return c
}

// parseBytes reads a memory size such as 16KB or 4MB. A bad size is an
// error, never "no limit".
func parseBytes(s string) (int64, error) {
	var n int64
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("memory %q is not a size such as 16KB or 4MB", s)
	}
	switch strings.ToUpper(unit) {
	case "KB":
		return n << 10, nil
	case "MB":
		return n << 20, nil
	}
	return 0, fmt.Errorf("memory %q: the unit is KB or MB", s)
}

func buildCache(sys *engine.System, opt chapters.Options, tune cacheTune) (*cacheLab, error) {
	shape := sqldb.DataShape{Users: tune.users, PostsPerUser: 2, Follows: 2, FeedLen: 20}
	db, err := kit.AddDB(sys, "db-1", tune.dbSize, engine.WorkModel{Read: tune.readWork, Feed: 4 * tune.readWork, Write: 4 * time.Millisecond}, shape, opt.Seed)
	if err != nil {
		return nil, err
	}
	node, err := kv.NewCacheNode(sys, "cache-1")
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(node); err != nil {
		return nil, err
	}
	mem, err := parseBytes(tune.memory)
	if err != nil {
		return nil, err
	}
	ttl, err := time.ParseDuration(tune.ttl)
	if err != nil {
		return nil, fmt.Errorf("cache ttl: %w", err)
	}
	cfg := cache.CacheConfig{MaxMemory: mem, Policy: cache.EvictLRU, Samples: 5}
	c1, err := cache.NewCache(sys, node, cfg)
	if err != nil {
		return nil, err
	}
	c1.SetLink(sys.AddLink("web-1", "cache-1"))
	dbc := sqldb.NewDBClient(sys, db, sys.AddLink("web-1", "db-1"), nil)
	store := cache.NewCacheStore(c1, dbc, sys.Clock, ttl)
	w1, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "xlarge", Work: engine.WorkModel{Web: time.Millisecond}, Store: func() engine.Store { return store }})
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(w1); err != nil {
		return nil, err
	}
	l := &cacheLab{sys: sys, store: store, gauge: kit.NewRing(20 * time.Second), watch: kit.NewRing(30 * time.Second), tune: tune, upAt: -1}
	l.knobs(tune)
	sys.Handle(engine.ActAdd, l.addCache)
	sys.AddGauges(l.gauges)

	cfgLoad := engine.DefaultLoadConfig()
	cfgLoad.Rate, cfgLoad.Mix, cfgLoad.Seed = cacheRate, cacheMix(), opt.Seed
	if opt.Rate > 0 {
		cfgLoad.Rate = opt.Rate
	}
	cfgLoad.Keys, cfgLoad.Users, cfgLoad.Zipf = tune.users, 2000, tune.zipf
	cfgLoad.Entry = func() string { return "http://" + w1.Addr() }
	ld, err := engine.NewLoad(cfgLoad, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// knobs adds the step's knobs.
func (l *cacheLab) knobs(tune cacheTune) {
	sys, store := l.sys, l.store
	ctx := sys.Context()
	eachCache := func(fn func(c *cache.Cache) error) error {
		for _, c := range store.Caches() {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	all := map[string]*engine.Knob{
		"cache.ttl": engine.NewKnob("cache.ttl", cacheTTLs, tune.ttl, func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil {
				store.SetTTL(ctx, d)
			}
			return err
		}),
		"load.keys": engine.NewKnob("load.keys", cacheKeyDists, "zipf", func(v string) error {
			if v == "uniform" {
				return sys.Load.SetZipf(0)
			}
			return sys.Load.SetZipf(tune.zipf)
		}),
		"cache.pattern": engine.NewKnob("cache.pattern", cache.CachePatterns(), cache.PatternCacheAside, func(v string) error {
			if err := store.SetPattern(v); err != nil {
				return err
			}
			// every entry now follows the new pattern: none is left stale
			// from the old one
			store.Flush(ctx)
			sys.Events.Add(engine.EvInfo, "cache-1", "flushed: every entry follows %s from now", v)
			return nil
		}),
		"cache.memory": engine.NewKnob("cache.memory", cacheMemories, tune.memory, func(v string) error {
			n, err := parseBytes(v)
			if err != nil {
				return err
			}
			return eachCache(func(c *cache.Cache) error { c.SetMaxMemory(n); return nil })
		}),
		"cache.policy": engine.NewKnob("cache.policy", cache.EvictionPolicies(), cache.EvictLRU, func(v string) error {
			return eachCache(func(c *cache.Cache) error { return c.SetPolicy(v) })
		}),
		"cache.samples": engine.NewKnob("cache.samples", []string{"3", "5", "10"}, "5", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			return eachCache(func(c *cache.Cache) error { return c.SetSamples(n) })
		}),
		"cache.coalesce": engine.NewKnob("cache.coalesce", []string{"off", "on"}, "off", func(v string) error {
			store.SetCoalesce(v == "on")
			return nil
		}),
	}
	for _, k := range tune.knobs {
		sys.AddKnob(all[k])
	}
}

// addCache adds a cache node; keys spread over the nodes by rendezvous
// hashing.
func (l *cacheLab) addCache(a engine.Action) error {
	if a.Target != "cache" {
		return fmt.Errorf("add %s: this chapter adds cache nodes (add cache): %w", a.Target, engine.ErrNotSupported)
	}
	have := l.store.Caches()
	if len(have) >= 3 {
		return fmt.Errorf("add cache: three cache nodes is this lab's limit: %w", engine.ErrNotSupported)
	}
	name := l.sys.NextName("cache")
	node, err := kv.NewCacheNode(l.sys, name)
	if err != nil {
		return err
	}
	if err := l.sys.AddNode(node); err != nil {
		return err
	}
	cfg := have[0].Config()
	c, err := cache.NewCache(l.sys, node, cfg)
	if err != nil {
		return err
	}
	c.SetLink(l.sys.AddLink("web-1", name))
	l.store.AddCache(c)
	l.sys.Events.Add(engine.EvAdd, name, "cache node: keys split over %d nodes by rendezvous hashing", len(have)+1)
	return nil
}

// cachesUp counts the cache nodes and those up.
func (l *cacheLab) cachesUp() (n, up int) {
	for _, c := range l.store.Caches() {
		n++
		if c.Node().State() == engine.StateUp {
			up++
		}
	}
	return n, up
}

func (l *cacheLab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	l.gauge.Add(now, l.counts().slice()...)
	var used int64
	keys := 0
	for _, c := range l.store.Caches() {
		st := c.Stats()
		used += st.Used
		keys += st.Keys
	}
	out := []engine.Gauge{}
	if dv, span, ok := l.gauge.Delta(5 * time.Second); ok {
		d := countsOf(dv)
		if hr, ok := kit.RatioPct(d.hits, d.misses); ok {
			out = append(out, engine.Gauge{Name: "hit ratio", Value: chapters.Round1(hr), Unit: "%"})
		}
		out = append(out,
			engine.Gauge{Name: "db reads", Value: chapters.Round1(kit.PerSec(d.dbReads, span)), Unit: "/s"},
			engine.Gauge{Name: "evictions/s", Value: chapters.Round1(kit.PerSec(d.evictions, span))})
	}
	out = append(out,
		engine.Gauge{Name: "memory", Value: float64(used >> 10), Unit: "KB"},
		engine.Gauge{Name: "keys", Value: float64(keys)},
		engine.Gauge{Name: "stale reads", Value: float64(l.store.Stats().Stale)})
	if l.tune.zipf > 1.5 {
		if b := l.store.Bursts(hotKey); b.Bursts > 0 {
			out = append(out, engine.Gauge{Name: "db reads/expiry", Value: float64(b.Last)})
		}
	}
	return kit.LeadGauges(out, l.tune.lead...)
}

// settle is how long knobs must hold before a figure counts for them.
const cacheSettle = 10 * time.Second

// watchCache latches the chapter's figures on every snapshot.
func watchCache(r *chapters.Run, l *cacheLab) {
	now := r.Now()
	cur := l.counts()
	l.watch.Add(now, cur.slice()...)
	step := cur.minus(l.last) // since the last snapshot
	l.last = cur
	dv, span, ok := l.watch.Delta(5 * time.Second)
	var d cacheCounts
	if ok {
		d = countsOf(dv)
	}
	hit, hitOK := kit.RatioPct(d.hits, d.misses)
	r.Facts["hit_ratio"] = chapters.Round1(100 * l.store.Stats().HitRatio())
	r.Facts["evictions"] = cur.evictions
	r.Facts["stale_reads"] = cur.stale
	r.Facts["db_reads"] = cur.dbReads
	r.Facts["cache_refused"] = cur.refused
	if !ok {
		return
	}
	n, up := l.cachesUp()
	allUp := n == up

	// keys and TTL
	keys, ttl := r.KnobAt("load.keys", now), r.KnobAt("cache.ttl", now)
	if keys != "" && ttl != "" && allUp && hitOK && r.Held(cacheSettle, "load.keys", keys, "cache.ttl", ttl) {
		r.Facts["hit_pct_"+keys+"_"+ttl] = chapters.Round1(hit)
		r.Facts["db_reads_per_s_"+keys+"_"+ttl] = chapters.Round1(kit.PerSec(d.dbReads, span))
	}
	// write patterns: stale reads per pattern
	if p := r.KnobAt("cache.pattern", now); p != "" {
		k := kit.FactName(p)
		r.Facts["n_reads_"+k] += step.hits + step.misses
		r.Facts["n_stale_"+k] += step.stale
		if n := r.Facts["n_reads_"+k]; n >= 500 {
			r.Facts["stale_per_1k_reads_"+k] = chapters.Round1(1000 * r.Facts["n_stale_"+k] / n)
		}
	}
	// memory
	if m := r.KnobAt("cache.memory", now); m != "" && allUp && hitOK && r.Held(cacheSettle, "cache.memory", m, "cache.policy", cache.EvictLRU) {
		k := strings.ToLower(m)
		r.Facts["hit_pct_mem_"+k] = chapters.Round1(hit)
		r.Facts["evictions_per_s_mem_"+k] = chapters.Round1(kit.PerSec(d.evictions, span))
	}
	// the cache's death, with one node and with two
	switch {
	case n == 1 && up == 0:
		r.Facts["n_readok_down"] += step.readOK
		r.Facts["n_readbad_down"] += step.readBad
		if t := r.Facts["n_readok_down"] + r.Facts["n_readbad_down"]; t >= 100 {
			r.Facts["read_failed_pct_cache_down"] = chapters.Round1(100 * r.Facts["n_readbad_down"] / t)
		}
		if downFor(r, "cache-1") >= 5*time.Second {
			r.Facts["db_reads_per_s_cache_down"] = chapters.Round1(kit.PerSec(d.dbReads, span))
			if dbn, ok := r.Latest.Node("db-1"); ok {
				r.Facts["db_p99_ms_cache_down"] = chapters.Round1(engine.Ms(dbn.P99))
			}
		}
	case n >= 2 && up == n-1:
		for _, c := range l.store.Caches() {
			if c.Node().State() != engine.StateUp && downFor(r, c.Node().Name()) >= 5*time.Second {
				r.Facts["db_reads_per_s_one_of_two_down"] = chapters.Round1(kit.PerSec(d.dbReads, span))
			}
		}
	case allUp && hitOK && hit >= 80 && n == 1:
		r.Facts["db_reads_per_s_cache_up"] = chapters.Round1(kit.PerSec(d.dbReads, span))
	}
	// a cold restart refilling: from the up event to an 80% hit ratio,
	// measured only over the time since
	if e, ok := r.LastEvent(engine.EvUp, "cache-1"); ok && e.T != l.upAt {
		l.upAt, l.refilled = e.T, false
	}
	if since := now - l.upAt; l.upAt >= 0 && !l.refilled && allUp && since >= 2*time.Second {
		if dv, _, ok := l.watch.Delta(min(since, 5*time.Second)); ok {
			if h, ok := kit.RatioPct(dv[0], dv[1]); ok && h >= 80 {
				r.Facts["refill_s"] = chapters.Round1(since.Seconds())
				l.refilled = true
			}
		}
	}
	// the hot key's bursts, by whether coalescing was on when each began
	b := l.store.Bursts(hotKey)
	if n := b.Bursts - b.CoBursts; n >= 2 {
		r.Facts["stampede_db_reads"] = chapters.Round1(float64(b.Reads-b.CoReads) / float64(n))
	}
	if b.CoBursts >= 2 {
		r.Facts["stampede_db_reads_coalesced"] = chapters.Round1(float64(b.CoReads) / float64(b.CoBursts))
	}
}

// downFor is how long a node has been down (0 when up).
func downFor(r *chapters.Run, name string) time.Duration {
	n, ok := r.Latest.Node(name)
	if !ok || n.State == engine.StateUp || n.State == engine.StateSaturated {
		return 0
	}
	if e, ok := r.LastEvent(engine.EvKill, name); ok {
		return r.Now() - e.T
	}
	return 0
}

func cacheLesson(r *chapters.Run) map[string]any {
	out := kit.FactsLesson(r)
	for _, k := range []string{"hit_ratio", "evictions", "stale_reads", "db_reads", "stampede_db_reads"} {
		if _, ok := out[k]; !ok {
			out[k] = 0.0
		}
	}
	return out
}

// cacheStep builds a step's topology with a tune.
func cacheStep(change func(*cacheTune)) func(sys *engine.System, opt chapters.Options) (*cacheLab, error) {
	return func(sys *engine.System, opt chapters.Options) (*cacheLab, error) {
		t := defaultCacheTune()
		change(&t)
		return buildCache(sys, opt, t)
	}
}

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
		ID:     "cache",
		Number: 5,
		Lesson: cacheLesson,
		Steps: []chapters.Step{
			chapters.StepOf[*cacheLab]{
				ID:    "hit-ratio",
				Build: cacheStep(func(t *cacheTune) { t.knobs = []string{"cache.ttl", "load.keys"} }),
				Keys: []chapters.Key{
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
					{Key: "z", Help: "key popularity", Knob: "load.keys"},
				},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "zipf-hit", Choices: 3, Unit: "%", Measured: kit.FactMeasured[*cacheLab]("hit_pct_zipf_60s"), Correct: threeWay(50, 80)},
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
						short, ok1 := r.Facts["db_reads_per_s_zipf_1s"]
						long, ok2 := r.Facts["db_reads_per_s_zipf_60s"]
						return ok1 && ok2 && short > long
					}},
				},
			}.Step(),
			chapters.StepOf[*cacheLab]{
				ID: "stale",
				Build: cacheStep(func(t *cacheTune) {
					t.ttl, t.knobs, t.lead = "5m", []string{"cache.pattern", "cache.ttl"}, []string{"stale reads", "hit ratio"}
				}),
				Keys: []chapters.Key{
					{Key: "w", Help: "write pattern", Knob: "cache.pattern"},
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
				},
				Watch: watchCache,
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
				}),
				Keys: []chapters.Key{
					{Key: "m", Help: "cache memory", Knob: "cache.memory"},
					{Key: "p", Help: "eviction policy", Knob: "cache.policy"},
					{Key: "e", Help: "eviction samples", Knob: "cache.samples"},
				},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "small-hit", Choices: 3, Unit: "%", Measured: kit.FactMeasured[*cacheLab]("hit_pct_mem_16kb"), Correct: threeWay(20, 75)},
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
				Build:      cacheStep(func(t *cacheTune) {}),
				Keys:       []chapters.Key{{Key: "a", Help: "add cache node", Action: engine.ActAdd, Target: "cache"}},
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
				ID: "stampede",
				Build: cacheStep(func(t *cacheTune) {
					t.zipf, t.readWork, t.dbSize, t.ttl = 2, 100*time.Millisecond, "large", "5s"
					t.knobs, t.lead = []string{"cache.coalesce", "cache.ttl"}, []string{"db reads/expiry", "db reads"}
				}),
				Keys: []chapters.Key{
					{Key: "c", Help: "coalesce misses", Knob: "cache.coalesce"},
					{Key: "t", Help: "cache ttl", Knob: "cache.ttl"},
				},
				Watch:      watchCache,
				Prediction: &chapters.PredictionOf[*cacheLab]{ID: "stampede-reads", Unit: "reads", Measured: kit.FactMeasured[*cacheLab]("stampede_db_reads")},
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
