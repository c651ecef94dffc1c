package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/internal/hash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache patterns: how writes treat the cache. Reads are always read-through
// (look in the cache, else read the database and store the answer).
const (
	// PatternCacheAside writes to the database only: a cached copy stays
	// as it was until its TTL ends, and reads of it are stale meanwhile.
	PatternCacheAside = "cache-aside"
	// PatternInvalidate writes to the database, then deletes the key.
	PatternInvalidate = "invalidate"
	// PatternWriteThrough writes to the database, then stores the new
	// value in the cache.
	PatternWriteThrough = "write-through"
)

// CachePatterns lists the patterns in cycle order.
func CachePatterns() []string {
	return []string{PatternCacheAside, PatternInvalidate, PatternWriteThrough}
}

// CacheStore is a read-through cache in front of a database, as a web
// server uses it. It counts hits, misses, database reads and stale reads:
// a hit that served a key's data from before that key's latest
// acknowledged write. With coalescing on, concurrent misses of one key
// make one database read (singleflight), which stops a stampede.
type CacheStore struct {
	caches atomic.Pointer[[]*Cache]
	db     engine.Store
	clock  *engine.Clock

	ttl      atomic.Int64
	pattern  atomic.Value // string
	coalesce atomic.Bool
	flight   singleflight.Group

	hits, misses, dbReads, stale, cacheErrs atomic.Int64

	mu      sync.Mutex
	version map[int]int64 // acknowledged writes per key: the database's truth
	loading map[string]*burst
	bursts  map[string]BurstStats
}

// burst is the database reads of one key that overlapped: the reads a
// miss storm makes while the first is still running.
type burst struct {
	inflight  int
	reads     int64
	coalesced bool // coalescing was on when the burst began
}

// BurstStats sums a key's bursts of database reads: Bursts is how many
// times the key had to be loaded (a cold start or an expiry), Reads the
// database reads those loads made. Without a stampede Reads == Bursts.
type BurstStats struct {
	Bursts, Reads int64
	Last          int64 // reads of the latest burst
	// CoBursts and CoReads are those of the bursts that began with
	// coalescing on (included in Bursts and Reads).
	CoBursts, CoReads int64
}

// cached is what the store keeps in Redis: the data and the version of the
// key it was read at.
type cached struct {
	V    int64           `json:"v"`
	Data json.RawMessage `json:"d"`
}

// NewCacheStore puts cache in front of db with a TTL (lab time).
func NewCacheStore(cache *Cache, db engine.Store, clock *engine.Clock, ttl time.Duration) *CacheStore {
	s := &CacheStore{db: db, clock: clock, version: map[int]int64{}, loading: map[string]*burst{}, bursts: map[string]BurstStats{}}
	s.caches.Store(&[]*Cache{cache})
	s.ttl.Store(int64(ttl))
	s.pattern.Store(PatternCacheAside)
	return s
}

// AddCache adds a cache node. Keys are spread over the nodes by rendezvous
// hashing, so a new node takes about 1/n of the keys and the others keep
// theirs; a dead node's keys fall through to the database.
func (s *CacheStore) AddCache(c *Cache) {
	old := *s.caches.Load()
	next := append(append([]*Cache{}, old...), c)
	s.caches.Store(&next)
}

// Caches returns the cache nodes.
func (s *CacheStore) Caches() []*Cache { return *s.caches.Load() }

// cacheFor picks the node that owns a key by rendezvous hashing, as the
// load balancer's hash policies do.
func (s *CacheStore) cacheFor(key string) *Cache {
	cs := *s.caches.Load()
	if len(cs) == 1 {
		return cs[0]
	}
	c, _ := hash.Rendezvous(cs, func(c *Cache) string { return c.node.Name() }, key)
	return c
}

// Bursts returns a key's load bursts so far ("read:0").
func (s *CacheStore) Bursts(key string) BurstStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bursts[key]
}

// readDB reads a key from the database, counting reads that overlap
// another read of the same key.
func (s *CacheStore) readDB(ctx context.Context, op engine.Op, key int, ck string) ([]byte, error) {
	s.mu.Lock()
	b := s.loading[ck]
	if b == nil {
		b = &burst{coalesced: s.coalesce.Load()}
		s.loading[ck] = b
	}
	b.inflight++
	b.reads++
	s.mu.Unlock()
	s.dbReads.Add(1)
	out, err := s.db.Do(ctx, op, key, "")
	s.mu.Lock()
	if b.inflight--; b.inflight == 0 {
		delete(s.loading, ck)
		st := s.bursts[ck]
		st.Bursts++
		st.Reads += b.reads
		st.Last = b.reads
		if b.coalesced {
			st.CoBursts++
			st.CoReads += b.reads
		}
		s.bursts[ck] = st
	}
	s.mu.Unlock()
	return out, err
}

// SetTTL changes the TTL of keys stored from now on, and shortens the TTL
// of keys already cached that would outlive it, as an operator applying a
// new TTL to a live cache would.
func (s *CacheStore) SetTTL(ctx context.Context, d time.Duration) {
	s.ttl.Store(int64(d))
	for _, c := range s.Caches() {
		_ = c.ClampTTL(ctx, d)
	}
}

// Flush empties every cache node.
func (s *CacheStore) Flush(ctx context.Context) {
	for _, c := range s.Caches() {
		_ = c.Flush(ctx)
	}
}

// TTL is the TTL in force.
func (s *CacheStore) TTL() time.Duration { return time.Duration(s.ttl.Load()) }

// SetPattern changes how writes treat the cache.
func (s *CacheStore) SetPattern(p string) error {
	for _, q := range CachePatterns() {
		if p == q {
			s.pattern.Store(p)
			return nil
		}
	}
	return fmt.Errorf("cache pattern %q is not one of %v", p, CachePatterns())
}

// Pattern is the pattern in force.
func (s *CacheStore) Pattern() string { return s.pattern.Load().(string) }

// SetCoalesce turns request coalescing on or off.
func (s *CacheStore) SetCoalesce(on bool) { s.coalesce.Store(on) }

// CacheStoreStats are the store's counts.
type CacheStoreStats struct {
	Hits, Misses, DBReads, Stale, CacheErrors int64
}

// HitRatio is hits / (hits + misses), 0 with no reads.
func (s CacheStoreStats) HitRatio() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}

// Stats returns the counts so far.
func (s *CacheStore) Stats() CacheStoreStats {
	return CacheStoreStats{Hits: s.hits.Load(), Misses: s.misses.Load(), DBReads: s.dbReads.Load(), Stale: s.stale.Load(), CacheErrors: s.cacheErrs.Load()}
}

func cacheKey(op engine.Op, key int) string { return string(op) + ":" + strconv.Itoa(key) }

func (s *CacheStore) versionOf(key int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version[key]
}

// Do serves reads through the cache and writes by the pattern. When the
// cache fails (its node is down), reads go to the database and the request
// still succeeds if the database can serve it.
func (s *CacheStore) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if op == engine.OpWrite {
		return s.write(ctx, key, body)
	}
	ck := cacheKey(op, key)
	cache := s.cacheFor(ck)
	raw, hit, err := cache.Get(ctx, ck)
	if err != nil {
		s.cacheErrs.Add(1) // the cache is down: fall through to the database
	}
	if hit {
		var c cached
		if json.Unmarshal([]byte(raw), &c) == nil {
			s.hits.Add(1)
			if c.V < s.versionOf(key) {
				s.stale.Add(1)
			}
			return c.Data, nil
		}
	}
	s.misses.Add(1)
	load := func() (any, error) {
		// the version is taken before the read, so the answer is at least
		// that new; a write racing the read makes it look older, never newer
		v := s.versionOf(key)
		out, err := s.readDB(ctx, op, key, ck)
		if err != nil {
			return nil, err
		}
		if b, err := json.Marshal(cached{V: v, Data: out}); err == nil {
			_ = s.cacheSet(ctx, cache, ck, string(b))
		}
		return out, nil
	}
	var v any
	if s.coalesce.Load() {
		v, err, _ = s.flight.Do(ck, load)
	} else {
		v, err = load()
	}
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (s *CacheStore) cacheSet(ctx context.Context, c *Cache, key, val string) error {
	err := c.Set(ctx, key, val, s.TTL())
	if err != nil {
		s.cacheErrs.Add(1)
	}
	return err
}

func (s *CacheStore) write(ctx context.Context, key int, body string) ([]byte, error) {
	out, err := s.db.Do(ctx, engine.OpWrite, key, body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.version[key]++
	s.mu.Unlock()
	ck := cacheKey(engine.OpRead, key)
	cache := s.cacheFor(ck)
	switch s.Pattern() {
	case PatternInvalidate:
		if cache.Invalidate(ctx, ck) != nil {
			s.cacheErrs.Add(1)
		}
	case PatternWriteThrough:
		// the new value is read back inside the write path, not by a miss;
		// like a miss it is stamped with the version before the read (at
		// least this write's), as later writes may be in it too
		rv := s.versionOf(key)
		if fresh, err := s.db.Do(ctx, engine.OpRead, key, ""); err == nil {
			s.dbReads.Add(1)
			if b, err := json.Marshal(cached{V: rv, Data: fresh}); err == nil {
				_ = s.cacheSet(ctx, cache, ck, string(b))
			}
		}
	}
	return out, nil
}
