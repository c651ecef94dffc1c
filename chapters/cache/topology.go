// The cache chapter's topology: its tune, the lab type and how a step builds
// it.

package cache

import (
	"fmt"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cache"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"time"

	"scalelab/engine"
)

// The cache chapter's load: reads dominate, as they do where a cache pays.
const cacheRate = 400

// maxCaches is how many cache nodes `add cache` may grow the tier to.
const maxCaches = 3

func cacheMix() engine.Mix { return engine.Mix{engine.OpRead: 90, engine.OpWrite: 10} }

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
	db    *sqldb.DBNode // its own count of the reads it answered
	gauge *kit.Ring     // sampled by the gauges
	watch *kit.Ring     // sampled by Watch
	tune  cacheTune

	// Watch's state between snapshots
	last     cacheCounts
	upAt     time.Duration // when cache-1 last came back from a restart, -1 none
	refilled bool          // its hit ratio is back
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
	l := &cacheLab{sys: sys, store: store, db: db, gauge: kit.NewRing(20 * time.Second), watch: kit.NewRing(30 * time.Second), tune: tune, upAt: -1}
	l.knobs(tune)
	sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
		if a.Target != string(kv.RoleCache) {
			return fmt.Errorf("add %s: this chapter adds cache nodes (add cache): %w", a.Target, engine.ErrNotSupported)
		}
		return nil
	}, l.addCache)
	sys.LimitNodes(kv.RoleCache, maxCaches)
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

// addCache adds a cache node; keys spread over the nodes by rendezvous
// hashing.
func (l *cacheLab) addCache(a engine.Action) error {
	have := l.store.Caches()
	if limit, _, _ := l.sys.NodeLimit(kv.RoleCache); len(have) >= limit {
		return engine.LimitError(kv.RoleCache, limit)
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
	l.sys.Events.Add(engine.EvAdd, name, engine.Textf("cache.node_added", "cache node: keys split over %d nodes by rendezvous hashing", len(have)+1))
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

// cacheStep builds a step's topology with a tune.
func cacheStep(change func(*cacheTune)) func(sys *engine.System, opt chapters.Options) (*cacheLab, error) {
	return func(sys *engine.System, opt chapters.Options) (*cacheLab, error) {
		t := defaultCacheTune()
		change(&t)
		return buildCache(sys, opt, t)
	}
}
