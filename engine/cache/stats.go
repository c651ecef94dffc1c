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
		{Label: engine.Textf("cache.eviction", "eviction"),
			Value: engine.Textf("cache.eviction.value", "%s, %d samples (scalelab's own; miniredis has none)", engine.KnobValue(cfg.Policy), cfg.Samples)},
		{Label: engine.Textf("cache.hottest", "hottest keys (ttl left · idle · hits):")},
	}
	for _, k := range c.Hottest(5) {
		ttl := engine.Textf("cache.ttl.none", "none")
		if k.TTLLeft > 0 {
			ttl = engine.Textf("cache.ttl.left", "%.1fs", k.TTLLeft.Seconds())
		}
		out = append(out, engine.Line{Item: true, Label: engine.Textf("cache.hot_key", "%-9s %6s · %4.1fs · %.0f", k.Key, ttl, k.Idle.Seconds(), k.Freq)})
	}
	return out
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
	return CacheStats{Used: c.used, Max: c.cfg.MaxMemory, Keys: len(c.keys), Evictions: c.evictions, Refused: c.refused}
}

// CacheKey describes a key for the inspector: its TTL left, idle time and
// use counter.
type CacheKey struct {
	Key     string
	TTLLeft time.Duration // 0: no TTL
	Idle    time.Duration
	Freq    float64
}

// Hottest returns up to n keys with the highest LFU counters.
func (c *Cache) Hottest(n int) []CacheKey {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CacheKey, 0, len(c.meta))
	for k, e := range c.meta {
		ck := CacheKey{Key: k, Idle: now - e.access, Freq: e.freq}
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
		if ks[i].Freq != ks[j].Freq {
			return ks[i].Freq > ks[j].Freq
		}
		return ks[i].Key < ks[j].Key
	})
}
