// The cache's bookkeeping of its keys and the choice of a victim, as Redis
// 7 makes it (evict.c): an LRU clock of one-second resolution, a
// logarithmic LFU counter that decays by the minute, and an eviction pool
// of the 16 best candidates that sampling has found so far.

package cache

import (
	"math"
	"math/rand/v2"
	"time"
)

// Redis' defaults for the LRU clock, the eviction pool and LFU.
const (
	lruResolution = time.Second // LRU_CLOCK_RESOLUTION
	poolSize      = 16          // EVPOOL_SIZE
	lfuInit       = 5           // LFU_INIT_VAL: a new key's counter
	lfuLogFactor  = 10          // lfu-log-factor
	lfuDecayTime  = time.Minute // lfu-decay-time: one off per minute idle
)

// Keyspace is the accounting of a cache's keys: their memory, TTLs, access
// clocks and counters, and eviction by the configured policy. It is not
// safe for concurrent use: the Cache holds its lock around every call.
type Keyspace struct {
	cfg       CacheConfig
	keys      []string // every key, for sampling in O(1)
	meta      map[string]*cacheEntry
	used      int64
	evictions int64
	refused   int64
	rng       *rand.Rand
	pool      []poolEntry // best candidates last, as Redis' pool
}

type cacheEntry struct {
	idx      int
	size     int64
	lru      int64         // LRU clock of the last access, in lab seconds
	access   time.Duration // last access, for the inspector's idle time
	counter  uint8         // LFU counter, logarithmic
	ldt      int64         // LFU: lab minute of the last access
	hits     int64         // reads that found it, for the inspector
	expireAt time.Duration // 0: no TTL
}

type poolEntry struct {
	key  string
	idle uint64 // the higher, the sooner evicted
}

// NewKeyspace returns an empty keyspace; seed drives its sampling.
func NewKeyspace(cfg CacheConfig, seed uint64) *Keyspace {
	if cfg.Policy == "" {
		cfg.Policy = EvictLRU
	}
	if cfg.Samples == 0 {
		cfg.Samples = 5
	}
	return &Keyspace{cfg: cfg, meta: map[string]*cacheEntry{}, rng: rand.New(rand.NewPCG(seed, 0xcac4e))}
}

// Config returns the settings in force; SetConfig changes them (already
// validated).
func (k *Keyspace) Config() CacheConfig     { return k.cfg }
func (k *Keyspace) SetConfig(c CacheConfig) { k.cfg, k.pool = c, k.pool[:0] }

// Len is the number of keys; Used the memory they are charged.
func (k *Keyspace) Len() int    { return len(k.keys) }
func (k *Keyspace) Used() int64 { return k.used }

// Evictions and Refused count the keys evicted and the writes refused.
func (k *Keyspace) Evictions() int64 { return k.evictions }
func (k *Keyspace) Refused() int64   { return k.refused }

// Touch records a read that found key at lab time now; false when the
// keyspace does not hold it.
func (k *Keyspace) Touch(key string, now time.Duration) bool {
	e := k.meta[key]
	if e == nil {
		return false
	}
	e.hits++
	k.access(e, now)
	return true
}

// access moves the LRU clock and the LFU counter, as Redis' lookupKey.
func (k *Keyspace) access(e *cacheEntry, now time.Duration) {
	e.lru = int64(now / lruResolution)
	e.access = now
	e.counter = k.lfuIncr(lfuDecayed(e, now))
	e.ldt = int64(now / lfuDecayTime)
}

// lfuDecayed is the counter less one per lfu-decay-time idle (Redis'
// LFUDecrAndReturn); it does not change the entry.
func lfuDecayed(e *cacheEntry, now time.Duration) uint8 {
	periods := int64(now/lfuDecayTime) - e.ldt
	switch {
	case periods <= 0:
		return e.counter
	case periods >= int64(e.counter):
		return 0
	}
	return e.counter - uint8(periods)
}

// lfuIncr is Redis' LFULogIncr: the higher the counter, the less likely an
// access moves it.
func (k *Keyspace) lfuIncr(c uint8) uint8 {
	if c == math.MaxUint8 {
		return c
	}
	base := float64(c) - lfuInit
	if base < 0 {
		base = 0
	}
	if k.rng.Float64() < 1/(base*lfuLogFactor+1) {
		c++
	}
	return c
}

// Put stores key with size bytes and an expiry (0: none) at lab time now,
// then evicts while memory is over the limit, as Redis does before the
// next command: the key just written may be the victim. It returns the
// keys evicted, and ErrCacheFull when the policy may not or cannot make
// room (the write is then not kept).
func (k *Keyspace) Put(key string, size int64, expireAt, now time.Duration) ([]string, error) {
	e := k.meta[key]
	var old int64
	if e != nil {
		old = e.size
	}
	if k.cfg.Policy == EvictNone && k.cfg.MaxMemory > 0 && k.used-old+size > k.cfg.MaxMemory {
		k.refused++
		return nil, ErrCacheFull
	}
	if e == nil {
		e = &cacheEntry{idx: len(k.keys), counter: lfuInit, ldt: int64(now / lfuDecayTime), lru: int64(now / lruResolution), access: now}
		k.keys = append(k.keys, key)
		k.meta[key] = e
	} else {
		k.access(e, now) // an overwrite looks the key up first
	}
	k.used += size - e.size
	e.size = size
	e.expireAt = expireAt
	var victims []string
	for k.cfg.MaxMemory > 0 && k.used > k.cfg.MaxMemory {
		v := k.victim(now)
		if v == "" {
			k.Drop(key)
			k.refused++
			return victims, ErrCacheFull
		}
		k.Drop(v)
		k.evictions++
		victims = append(victims, v)
	}
	return victims, nil
}

// Drop forgets a key in O(1).
func (k *Keyspace) Drop(key string) {
	e := k.meta[key]
	if e == nil {
		return
	}
	last := len(k.keys) - 1
	moved := k.keys[last]
	k.keys[e.idx] = moved
	k.meta[moved].idx = e.idx
	k.keys = k.keys[:last]
	delete(k.meta, key)
	k.used -= e.size
}

// Forget drops every key: the server restarted empty.
func (k *Keyspace) Forget() {
	k.keys, k.meta, k.used, k.pool = nil, map[string]*cacheEntry{}, 0, k.pool[:0]
}

// Expired drops and returns the keys whose TTL ended by now.
func (k *Keyspace) Expired(now time.Duration) []string {
	var gone []string
	for key, e := range k.meta {
		if e.expireAt > 0 && e.expireAt <= now {
			gone = append(gone, key)
		}
	}
	for _, key := range gone {
		k.Drop(key)
	}
	return gone
}

// Clamp makes every key expire by now+d and returns the keys it changed.
func (k *Keyspace) Clamp(now, d time.Duration) []string {
	var keys []string
	for key, e := range k.meta {
		if e.expireAt == 0 || e.expireAt > now+d {
			e.expireAt = now + d
			keys = append(keys, key)
		}
	}
	return keys
}

// victim picks a key to evict by the policy; "" when it may not or cannot
// evict. LRU, LFU and volatile-ttl sample Samples keys into the pool and
// take its best live candidate (Redis' evictionPoolPopulate and
// performEvictions); random takes any key. The cost is O(Samples +
// poolSize), whatever the number of keys.
func (k *Keyspace) victim(now time.Duration) string {
	switch {
	case k.cfg.Policy == EvictNone || len(k.keys) == 0:
		return ""
	case k.cfg.Policy == EvictRandom:
		return k.keys[k.rng.IntN(len(k.keys))]
	}
	for range 4 {
		if !k.populate(now) {
			return "" // volatile-ttl and no key has a TTL
		}
		for j := len(k.pool) - 1; j >= 0; j-- {
			key := k.pool[j].key
			k.pool = append(k.pool[:j], k.pool[j+1:]...)
			if k.meta[key] != nil { // else a ghost: gone since it was pooled
				return key
			}
		}
	}
	return ""
}

// populate samples keys into the pool, keeping the poolSize with the
// highest idle score in ascending order; false when no key qualified.
func (k *Keyspace) populate(now time.Duration) bool {
	tries, found := k.cfg.Samples, 0
	if k.cfg.Policy == EvictVolatileTTL {
		tries *= 4 // Redis samples the keys with a TTL only; here the others are skipped
	}
	nowLRU := int64(now / lruResolution)
	for ; tries > 0 && found < k.cfg.Samples; tries-- {
		key := k.keys[k.rng.IntN(len(k.keys))]
		e := k.meta[key]
		var idle uint64
		switch k.cfg.Policy {
		case EvictLRU:
			if d := nowLRU - e.lru; d > 0 {
				idle = uint64(d) * uint64(lruResolution/time.Millisecond)
			}
		case EvictLFU:
			idle = math.MaxUint8 - uint64(lfuDecayed(e, now))
		case EvictVolatileTTL:
			if e.expireAt == 0 {
				continue
			}
			idle = math.MaxUint64 - uint64(e.expireAt)
		}
		found++
		j := 0
		for j < len(k.pool) && k.pool[j].idle < idle {
			j++
		}
		switch {
		case j == 0 && len(k.pool) == poolSize:
			continue // no better than the worst, and no room
		case len(k.pool) < poolSize:
			k.pool = append(k.pool, poolEntry{})
			copy(k.pool[j+1:], k.pool[j:])
		default: // full: drop the worst, shift left
			j--
			copy(k.pool[:j], k.pool[1:j+1])
		}
		k.pool[j] = poolEntry{key: key, idle: idle}
	}
	return found > 0
}
