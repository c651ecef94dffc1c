// The cache's figures for gauges and the inspector: memory, evictions and
// the hottest keys.

package cache

import (
	"fmt"
	"sort"
	"time"

	"scalelab/engine"
)

func (c *Cache) detail() engine.Text {
	st := c.Stats()
	if st.Max > 0 {
		return engine.Textf("cache.detail.memory", "cache · %d keys · %d%% mem", st.Keys, 100*st.Used/st.Max)
	}
	return engine.Textf("cache.detail", "cache · %d keys", st.Keys)
}

// lines are the inspector's: memory, eviction, and the hottest keys with
// their TTL counting down and their idle time (what LRU looks at).
func (c *Cache) lines() []engine.Line {
	st, cfg := c.Stats(), c.Config()
	out := []engine.Line{
		{Label: engine.Textf("cache.memory", "memory"),
			Value: engine.Textf("cache.memory.value", "%s of %s · evicted %d · refused %d", kb(st.Used), kb(st.Max), st.Evictions, st.Refused)},
		{Label: engine.Textf("cache.eviction", "eviction"), Value: c.evictionText(cfg)},
		{Label: engine.Textf("cache.charge", "memory per key"),
			Value: engine.Textf("cache.charge.value", "%d B on average, as Redis 7 charges these keys (modelled); a real server also uses about 1 MB before its first key", perKey(st))},
		{Label: engine.Textf("cache.hottest", "hottest keys (ttl left · idle · hits):")},
	}
	for _, k := range c.Hottest(5) {
		ttl := engine.Textf("cache.ttl.none", "none")
		if k.TTLLeft > 0 {
			ttl = engine.Textf("cache.ttl.left", "%.1fs", k.TTLLeft.Seconds())
		}
		out = append(out, engine.Line{Item: true, Label: engine.Textf("cache.hot_key", "%-9s %6s · %4.1fs · %d", k.Key, ttl, k.Idle.Seconds(), k.Hits)})
	}
	return out
}

// evictionText says whose eviction runs: the lab's layer, made as Redis
// 7's, over miniredis (which has none) or over a real server whose own
// maxmemory is off.
func (c *Cache) evictionText(cfg CacheConfig) engine.Text {
	if c.node.Real() {
		return engine.Textf("cache.eviction.value_real", "%s, %d samples into a pool of 16 (scalelab's own, as Redis 7's; the server's maxmemory is off)", engine.KnobValue(cfg.Policy), cfg.Samples)
	}
	return engine.Textf("cache.eviction.value", "%s, %d samples into a pool of 16 (scalelab's own, as Redis 7's; miniredis has none)", engine.KnobValue(cfg.Policy), cfg.Samples)
}

func perKey(st CacheStats) int64 {
	if st.Keys == 0 {
		return 0
	}
	return st.Used / int64(st.Keys)
}

// kb formats bytes as KB (or MB).
func kb(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0fKB", float64(n)/(1<<10))
	}
}

// CacheStats are a cache's figures for gauges.
type CacheStats struct {
	Used, Max          int64
	Keys               int
	Evictions, Refused int64
}

// Stats returns the cache's figures now.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Used: c.ks.Used(), Max: c.ks.Config().MaxMemory, Keys: c.ks.Len(), Evictions: c.ks.Evictions(), Refused: c.ks.Refused()}
}

// CacheKey describes a key for the inspector: its TTL left, idle time and
// use counter.
type CacheKey struct {
	Key     string
	TTLLeft time.Duration // 0: no TTL
	Idle    time.Duration
	Hits    int64 // reads that found it
	Counter uint8 // its LFU counter (logarithmic, as Redis')
}

// Hottest returns up to n keys with the most hits.
func (c *Cache) Hottest(n int) []CacheKey {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CacheKey, 0, len(c.ks.meta))
	for k, e := range c.ks.meta {
		ck := CacheKey{Key: k, Idle: now - e.access, Hits: e.hits, Counter: e.counter}
		if e.expireAt > 0 {
			ck.TTLLeft = e.expireAt - now
		}
		out = append(out, ck)
	}
	sortKeys(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func sortKeys(ks []CacheKey) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Hits != ks[j].Hits {
			return ks[i].Hits > ks[j].Hits
		}
		return ks[i].Key < ks[j].Key
	})
}
