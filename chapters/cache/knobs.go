// The cache chapter's knobs and their values.

package cache

import (
	"scalelab/engine/cache"
	"strconv"
	"time"

	"scalelab/engine"
)

// Knob values of the cache chapter.
var (
	cacheTTLs     = []string{"1s", "5s", "10s", "60s", "5m"}
	cacheMemories = []string{"16KB", "256KB", "4MB"}
	cacheKeyDists = []string{"zipf", "uniform"}
)

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
			sys.Events.Add(engine.EvInfo, "cache-1", engine.Textf("cache.flushed", "flushed: every entry follows %s from now", engine.KnobValue(v)))
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
