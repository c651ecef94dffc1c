// Memory accounting and eviction: the maxmemory settings, the policies and
// Redis-style sampling of a victim.

package cache

import (
	"errors"
	"fmt"
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

// Charge is the memory a string key costs in Redis 7 with jemalloc, as
// its used_memory grows: the key's sds, the value (embedded in its object
// up to 44 bytes, else an object and an sds), the dict entry and a share of
// the hash table's buckets, and with a TTL an entry in the expires dict.
// Modelled, and checked against a real redis-server by scalelab fidelity
// (MEMORY USAGE and used_memory): e.g. a 9-byte key with a 100-byte value
// costs 184 bytes, 234 with a TTL. The buckets' share is 8 to 24 bytes a
// key as the table fills and doubles; 16 is charged.
func Charge(keyLen, valLen int, ttl bool) int64 {
	const robj, dictEntry, bucketShare, expiresEntry = 16, 24, 16, 50
	n := jemalloc(sdsHeader(keyLen)+keyLen+1) + dictEntry + bucketShare
	if valLen <= 44 { // OBJ_ENCODING_EMBSTR: one allocation
		n += jemalloc(robj + 3 + valLen + 1)
	} else {
		n += robj + jemalloc(sdsHeader(valLen)+valLen+1)
	}
	if ttl {
		n += expiresEntry
	}
	return int64(n)
}

// sdsHeader is the header of an sds string of n bytes (sdsReqType).
func sdsHeader(n int) int {
	switch {
	case n < 1<<5:
		return 1
	case n < 1<<8:
		return 3
	case n < 1<<16:
		return 5
	}
	return 9
}

// jemalloc rounds an allocation up to its size class: 8, then steps of 16
// to 128, then four classes per doubling (160, 192, 224, 256, 320, ...).
func jemalloc(n int) int {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	}
	step := 1
	for step*8 < n {
		step <<= 1
	}
	return (n + step - 1) / step * step
}

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
	cfg := c.ks.Config()
	cfg.Policy = p
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.ks.SetConfig(cfg)
	return nil
}

// SetMaxMemory changes the memory limit live; the next writes evict down
// to it.
func (c *Cache) SetMaxMemory(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.ks.Config()
	cfg.MaxMemory = n
	c.ks.SetConfig(cfg)
}

// SetSamples changes how many keys an eviction samples.
func (c *Cache) SetSamples(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.ks.Config()
	cfg.Samples = n
	if err := cfg.Validate(); err != nil {
		return err
	}
	c.ks.SetConfig(cfg)
	return nil
}

// Config returns the settings in force.
func (c *Cache) Config() CacheConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ks.Config()
}
