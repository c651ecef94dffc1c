package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"scalelab/engine"
	"scalelab/engine/kv"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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

// Cache is a cache tier on a Redis server (a KVNode). miniredis keeps the
// data and speaks the protocol, but it has no maxmemory and its TTLs do
// not count down on their own. This layer, shared by the web servers, adds
// both: memory accounting with Redis-style sampled eviction on every write
// over the limit, and TTLs that run on the lab clock.
type Cache struct {
	node  *kv.KVNode
	rdb   *redis.Client
	clock *engine.Clock
	link  atomic.Pointer[engine.Link] // the web tier's hop to the node, if drawn

	mu        sync.Mutex
	cfg       CacheConfig
	keys      []string // every key, for sampling in O(1)
	meta      map[string]*cacheEntry
	used      int64
	evictions int64
	refused   int64
	rng       *rand.Rand
	advanced  time.Duration // lab time the server's TTLs have been advanced to
}

type cacheEntry struct {
	idx      int
	size     int64
	access   time.Duration // last read or write, lab time
	freq     float64       // LFU counter, decaying by half a minute
	expireAt time.Duration // 0: no TTL
}

// NewCache puts a cache layer on a KV node and starts driving its TTLs from
// the lab clock.
func NewCache(sys *engine.System, node *kv.KVNode, cfg CacheConfig) (*Cache, error) {
	if cfg.Policy == "" {
		cfg.Policy = EvictLRU
	}
	if cfg.Samples == 0 {
		cfg.Samples = 5
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", node.Name(), err)
	}
	// one dial attempt and no retries: a dead cache must fail fast so that
	// reads fall through to the database (go-redis would retry a dial 5
	// times, 100 ms apart, by default)
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 64})
	sys.OnClose(rdb.Close)
	c := &Cache{node: node, rdb: rdb, clock: sys.Clock, cfg: cfg, meta: map[string]*cacheEntry{},
		rng: rand.New(rand.NewPCG(1, 0xcac4e)), advanced: sys.Clock.Now()}
	sys.Go(func(ctx context.Context) {
		sys.Clock.Every(ctx, 100*time.Millisecond, func(now time.Duration) { c.tick(now) })
	})
	node.OnWipe(c.forget)
	node.Describe(c.detail, c.lines)
	return c, nil
}

// Node is the Redis server under the cache.
func (c *Cache) Node() *kv.KVNode { return c.node }

// SetLink makes every command cross l first (its latency and partitions).
func (c *Cache) SetLink(l *engine.Link) { c.link.Store(l) }

// hop spends the link's and the node's injected latency before a command.
func (c *Cache) hop(ctx context.Context) error {
	if l := c.link.Load(); l != nil {
		if err := l.Delay(ctx); err != nil {
			return err
		}
	}
	return c.node.Delay(ctx)
}

// forget drops the bookkeeping of every key: the server restarted empty.
func (c *Cache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys, c.meta, c.used = nil, map[string]*cacheEntry{}, 0
}

func (c *Cache) detail() string {
	st := c.Stats()
	if st.Max > 0 {
		return fmt.Sprintf("cache · %d keys · %d%% mem", st.Keys, 100*st.Used/st.Max)
	}
	return fmt.Sprintf("cache · %d keys", st.Keys)
}

// lines are the inspector's: memory, eviction, and the hottest keys with
// their TTL counting down and their idle time (what LRU looks at).
func (c *Cache) lines() []string {
	st, cfg := c.Stats(), c.Config()
	out := []string{
		fmt.Sprintf("memory: %s of %s · evicted %d · refused %d", kb(st.Used), kb(st.Max), st.Evictions, st.Refused),
		fmt.Sprintf("eviction: %s, %d samples (scalelab's own; miniredis has none)", cfg.Policy, cfg.Samples),
		"hottest keys (ttl left · idle · hits):",
	}
	for _, k := range c.Hottest(5) {
		ttl := "none"
		if k.TTLLeft > 0 {
			ttl = fmt.Sprintf("%.1fs", k.TTLLeft.Seconds())
		}
		out = append(out, fmt.Sprintf("  %-9s %6s · %4.1fs · %.0f", k.Key, ttl, k.Idle.Seconds(), k.Freq))
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

// done counts one command on the node; a command to a dead node never
// reached it.
func (c *Cache) done(start time.Duration, err error) {
	if c.node.State() != engine.StateUp {
		return
	}
	c.node.Record(c.clock.Now()-start, err)
}

// tick moves the server's TTLs on by the lab time that passed and forgets
// the keys that expired.
func (c *Cache) tick(now time.Duration) {
	c.mu.Lock()
	d := now - c.advanced
	c.advanced = now
	var gone []string
	for k, e := range c.meta {
		if e.expireAt > 0 && e.expireAt <= now {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		c.dropLocked(k)
	}
	c.mu.Unlock()
	if d > 0 {
		c.node.Redis().FastForward(d)
	}
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

// Get reads a key: hit is false on a miss.
func (c *Cache) Get(ctx context.Context, key string) (val string, hit bool, err error) {
	start := c.clock.Now()
	if err := c.hop(ctx); err != nil {
		c.done(start, err)
		return "", false, err
	}
	val, err = c.rdb.Get(ctx, key).Result()
	miss := errors.Is(err, redis.Nil)
	if miss {
		err = nil
	}
	c.done(start, err)
	switch {
	case err != nil:
		return "", false, err
	case miss:
		c.mu.Lock()
		c.dropLocked(key) // expired or evicted behind our back
		c.mu.Unlock()
		return "", false, nil
	}
	c.mu.Lock()
	if e := c.meta[key]; e != nil {
		c.touchLocked(e)
	}
	c.mu.Unlock()
	return val, true, nil
}

// Set writes a key with a TTL in lab time (0: none), evicting first when
// memory is over the limit. It returns ErrCacheFull when the policy cannot
// make room.
func (c *Cache) Set(ctx context.Context, key, val string, ttl time.Duration) error {
	start := c.clock.Now()
	if err := c.hop(ctx); err != nil {
		c.done(start, err)
		return err
	}
	size := int64(len(key)+len(val)) + entryOverhead
	c.mu.Lock()
	var old int64
	if e := c.meta[key]; e != nil {
		old = e.size
	}
	var victims []string
	for c.cfg.MaxMemory > 0 && c.used-old+size > c.cfg.MaxMemory {
		v := c.victimLocked(key)
		if v == "" {
			c.refused++
			c.mu.Unlock()
			if len(victims) > 0 {
				c.rdb.Del(ctx, victims...)
			}
			c.done(start, ErrCacheFull) // Redis answers an OOM error
			return ErrCacheFull
		}
		c.dropLocked(v)
		c.evictions++
		victims = append(victims, v)
	}
	now := c.clock.Now()
	e := c.meta[key]
	if e == nil {
		e = &cacheEntry{idx: len(c.keys)}
		c.keys = append(c.keys, key)
		c.meta[key] = e
	}
	c.used += size - e.size
	e.size = size
	e.expireAt = 0
	if ttl > 0 {
		e.expireAt = now + ttl
	}
	c.touchLocked(e)
	c.mu.Unlock()
	pipe := c.rdb.Pipeline()
	if len(victims) > 0 {
		pipe.Del(ctx, victims...)
	}
	pipe.Set(ctx, key, val, ttl)
	_, err := pipe.Exec(ctx)
	c.done(start, err)
	if err != nil { // not stored: the server did not take it
		c.mu.Lock()
		c.dropLocked(key)
		c.mu.Unlock()
	}
	return err
}

// ClampTTL makes every key expire within d from now.
func (c *Cache) ClampTTL(ctx context.Context, d time.Duration) error {
	now := c.clock.Now()
	c.mu.Lock()
	var keys []string
	for k, e := range c.meta {
		if e.expireAt == 0 || e.expireAt > now+d {
			e.expireAt = now + d
			keys = append(keys, k)
		}
	}
	c.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	pipe := c.rdb.Pipeline()
	for _, k := range keys {
		pipe.PExpire(ctx, k, d)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Invalidate deletes a key (invalidate-on-write).
func (c *Cache) Invalidate(ctx context.Context, key string) error {
	start := c.clock.Now()
	if err := c.hop(ctx); err != nil {
		c.done(start, err)
		return err
	}
	c.mu.Lock()
	c.dropLocked(key)
	c.mu.Unlock()
	err := c.rdb.Del(ctx, key).Err()
	c.done(start, err)
	return err
}

// Flush forgets everything: a cache that restarts comes back cold.
func (c *Cache) Flush(ctx context.Context) error {
	c.forget()
	return c.rdb.FlushAll(ctx).Err()
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
