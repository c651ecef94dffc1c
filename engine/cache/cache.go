package cache

import (
	"context"
	"errors"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/kv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is a cache tier on a Redis server (a KVNode). miniredis keeps the
// data and speaks the protocol, but it has no maxmemory and its TTLs do
// not count down on their own. This layer, shared by the web servers, adds
// both: memory charged per key as Redis 7 charges it, eviction as Redis 7
// makes it (keyspace.go) on every write over the limit, and TTLs that run
// on the lab clock.
type Cache struct {
	node  *kv.KVNode
	rdb   *redis.Client
	clock *engine.Clock
	link  atomic.Pointer[engine.Link] // the web tier's hop to the node, if drawn

	mu       sync.Mutex
	ks       *Keyspace
	advanced time.Duration // lab time the server's TTLs have been advanced to
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
	c := &Cache{node: node, rdb: rdb, clock: sys.Clock, ks: NewKeyspace(cfg, 1), advanced: sys.Clock.Now()}
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
	c.ks.Forget()
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
	gone := c.ks.Expired(now)
	c.mu.Unlock()
	c.node.Advance(d)
	if c.node.Real() && len(gone) > 0 && c.node.State() == engine.StateUp {
		// a real server's TTLs count wall time, so it has none (Set hands
		// it node.ServerTTL): the lab deletes what expired on its clock
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c.rdb.Del(ctx, gone...)
		cancel()
	}
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
		c.ks.Drop(key) // expired or evicted behind our back
		c.mu.Unlock()
		return "", false, nil
	}
	now := c.clock.Now()
	c.mu.Lock()
	c.ks.Touch(key, now)
	c.mu.Unlock()
	return val, true, nil
}

// Set writes a key with a TTL in lab time (0: none), then evicts while
// memory is over the limit, as Redis does: the key just written may be the
// victim. It returns ErrCacheFull when the policy may not or cannot make
// room.
func (c *Cache) Set(ctx context.Context, key, val string, ttl time.Duration) error {
	start := c.clock.Now()
	if err := c.hop(ctx); err != nil {
		c.done(start, err)
		return err
	}
	size := Charge(len(key), len(val), ttl > 0)
	now := c.clock.Now()
	var expireAt time.Duration
	if ttl > 0 {
		expireAt = now + ttl
	}
	c.mu.Lock()
	victims, err := c.ks.Put(key, size, expireAt, now)
	c.mu.Unlock()
	stored := err == nil
	pipe := c.rdb.Pipeline()
	if len(victims) > 0 {
		pipe.Del(ctx, victims...)
	}
	for _, v := range victims {
		// evicted at once, as Redis may evict the key just written
		stored = stored && v != key
	}
	if stored {
		pipe.Set(ctx, key, val, c.node.ServerTTL(ttl))
	}
	if pipe.Len() > 0 {
		if _, perr := pipe.Exec(ctx); perr != nil && err == nil {
			err = perr
			if stored { // not stored: the server did not take it
				c.mu.Lock()
				c.ks.Drop(key)
				c.mu.Unlock()
			}
		}
	}
	c.done(start, err) // a refusal is Redis' OOM error
	return err
}

// ClampTTL makes every key expire within d from now.
func (c *Cache) ClampTTL(ctx context.Context, d time.Duration) error {
	now := c.clock.Now()
	c.mu.Lock()
	keys := c.ks.Clamp(now, d)
	c.mu.Unlock()
	if len(keys) == 0 || c.node.ServerTTL(d) == 0 { // a real server: tick deletes them
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
	c.ks.Drop(key)
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
