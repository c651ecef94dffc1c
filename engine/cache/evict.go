// Memory accounting and eviction: the maxmemory settings, the policies and
// Redis-style sampling of a victim.

package cache

import (
	"errors"
	"fmt"
	"time"
)

// Eviction policies, named as Redis' maxmemory-policy.
const (
	EvictLRU         = "allkeys-lru"    // evict the least recently used of a sample
	EvictLFU         = "allkeys-lfu"    // evict the least frequently used of a sample
	EvictRandom      = "allkeys-random" // evict any key
	EvictVolatileTTL = "volatile-ttl"   // evict the key with a TTL that expires soonest
	EvictNone        = "noeviction"     // refuse writes when full
)

// EvictionPolicies lists the policies in cycle order.
func EvictionPolicies() []string {
	return []string{EvictLRU, EvictLFU, EvictRandom, EvictVolatileTTL, EvictNone}
}

// ErrCacheFull is Redis' answer to a write when memory is full and the
// policy cannot or may not evict.
var ErrCacheFull = errors.New("OOM command not allowed when used memory > 'maxmemory'")

// entryOverhead is the memory a key costs beyond its bytes (Redis' dict
// entry, object headers): modelled.
const entryOverhead = 64

// CacheConfig sets a cache's memory limit and eviction, as Redis'
// maxmemory, maxmemory-policy and maxmemory-samples do.
type CacheConfig struct {
	// MaxMemory is the memory limit in bytes (0: none). Too small, and the
	// cache evicts what it will need again: churn.
	MaxMemory int64
	// Policy is the eviction policy (default allkeys-lru).
	Policy string
	// Samples is how many keys each eviction looks at (default 5). More
	// samples pick a better victim and cost more per write.
	Samples int
}

// Validate checks a cache configuration.
func (c CacheConfig) Validate() error {
	ok := false
	for _, p := range EvictionPolicies() {
		ok = ok || p == c.Policy
	}
	switch {
	case !ok:
		return fmt.Errorf("eviction policy %q is not one of %v", c.Policy, EvictionPolicies())
	case c.MaxMemory < 0:
		return fmt.Errorf("maxmemory %d is negative", c.MaxMemory)
	case c.Samples < 1 || c.Samples > 64:
		return fmt.Errorf("samples %d is not between 1 and 64", c.Samples)
	}
	return nil
}

// SetPolicy changes the eviction policy live.
func (c *Cache) SetPolicy(p string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfg
	cfg.Policy = p
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// SetMaxMemory changes the memory limit live; the next writes evict down
// to it.
func (c *Cache) SetMaxMemory(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.MaxMemory = n
}

// SetSamples changes how many keys an eviction samples.
func (c *Cache) SetSamples(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.cfg
	cfg.Samples = n
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// Config returns the settings in force.
func (c *Cache) Config() CacheConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// touchLocked records an access: the LRU clock and the LFU counter.
func (c *Cache) touchLocked(e *cacheEntry) {
	now := c.clock.Now()
	if e.access > 0 {
		// the counter halves every 30 s of lab time without use, so a key
		// that was hot once does not stay forever
		if idle := now - e.access; idle > 0 {
			e.freq /= 1 + float64(idle)/float64(30*time.Second)
		}
	}
	e.freq++
	e.access = now
}

// dropLocked forgets a key in O(1).
func (c *Cache) dropLocked(key string) {
	e := c.meta[key]
	if e == nil {
		return
	}
	last := len(c.keys) - 1
	moved := c.keys[last]
	c.keys[e.idx] = moved
	c.meta[moved].idx = e.idx
	c.keys = c.keys[:last]
	delete(c.meta, key)
	c.used -= e.size
}

// victimLocked picks a key to evict by the policy, looking at Samples
// random keys (never keep, the key being written); "" when it may not or
// cannot evict. Its cost is O(Samples), whatever the number of keys.
func (c *Cache) victimLocked(keep string) string {
	if c.cfg.Policy == EvictNone || len(c.keys) == 0 {
		return ""
	}
	if c.cfg.Policy == EvictRandom {
		for i := 0; i < 4; i++ {
			if k := c.keys[c.rng.IntN(len(c.keys))]; k != keep {
				return k
			}
		}
		return ""
	}
	best, bestScore := "", 0.0
	tries := c.cfg.Samples
	if c.cfg.Policy == EvictVolatileTTL {
		tries *= 4 // keys without a TTL are skipped
	}
	for seen := 0; tries > 0 && seen < c.cfg.Samples; tries-- {
		k := c.keys[c.rng.IntN(len(c.keys))]
		e := c.meta[k]
		if k == keep {
			continue
		}
		var score float64 // lower is evicted first
		switch c.cfg.Policy {
		case EvictLRU:
			score = float64(e.access)
		case EvictLFU:
			score = e.freq
		case EvictVolatileTTL:
			if e.expireAt == 0 {
				continue
			}
			score = float64(e.expireAt)
		}
		seen++
		if best == "" || score < bestScore {
			best, bestScore = k, score
		}
	}
	return best
}
