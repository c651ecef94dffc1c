package cache

import (
	"context"
	"errors"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
	"testing"
	"time"
)

// has reports whether the cache's accounting holds a key.
func (c *Cache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ks.meta[key]
	return ok
}

func cacheRig(t testing.TB, cfg CacheConfig) (*engine.System, *Cache) {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	kv, err := kv.NewCacheNode(sys, "cache-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(kv); err != nil {
		t.Fatal(err)
	}
	c, err := NewCache(sys, kv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sys.Start()
	return sys, c
}

// a test entry: key "k%03d" (4 bytes) and 36 bytes of value, as Redis 7
// charges them
const testVal = "0123456789abcdefghijklmnopqrstuvwxyz"

func entrySize() int64 { return Charge(4, len(testVal), false) }

func TestCacheNeverExceedsMaxMemory(t *testing.T) {
	for _, p := range []string{EvictLRU, EvictLFU, EvictRandom} {
		t.Run(p, func(t *testing.T) {
			_, c := cacheRig(t, CacheConfig{MaxMemory: 50 * entrySize(), Policy: p, Samples: 5})
			ctx := context.Background()
			for i := 0; i < 200; i++ {
				if err := c.Set(ctx, fmt.Sprintf("k%03d", i), testVal, 0); err != nil {
					t.Fatal(err)
				}
				if st := c.Stats(); st.Used > st.Max {
					t.Fatalf("after %d writes used %d > max %d", i+1, st.Used, st.Max)
				}
			}
			st := c.Stats()
			if st.Keys != 50 || st.Evictions != 150 {
				t.Errorf("%s: %d keys, %d evictions; want 50 and 150", p, st.Keys, st.Evictions)
			}
			if n, _ := c.node.DBSize(ctx); n != 50 {
				t.Errorf("%s: the server holds %d keys, the accounting 50", p, n)
			}
		})
	}
}

// hotKept writes 200 keys into room for 50, one a second of lab time (the
// LRU clock's resolution, as Redis'), while reading keys 0-19 after every
// write, and returns how many of those hot keys survive.
func hotKept(t *testing.T, policy string) int {
	ks := NewKeyspace(CacheConfig{MaxMemory: 50 * entrySize(), Policy: policy, Samples: 10}, 1)
	for i := 0; i < 200; i++ {
		now := time.Duration(i) * time.Second
		if _, err := ks.Put(fmt.Sprintf("k%03d", i), entrySize(), 0, now); err != nil {
			t.Fatal(err)
		}
		for h := 0; h < 20 && i >= 20; h++ {
			ks.Touch(fmt.Sprintf("k%03d", h), now)
		}
	}
	kept := 0
	for h := 0; h < 20; h++ {
		if ks.meta[fmt.Sprintf("k%03d", h)] != nil {
			kept++
		}
	}
	return kept
}

func TestCacheLRUAndLFUKeepTheHotKeys(t *testing.T) {
	for _, p := range []string{EvictLRU, EvictLFU} {
		if kept := hotKept(t, p); kept < 16 {
			t.Errorf("%s kept %d of 20 hot keys; want most", p, kept)
		}
	}
	// random eviction does not know which keys are hot
	if kept := hotKept(t, EvictRandom); kept > 15 {
		t.Errorf("random eviction kept %d of 20 hot keys; it should lose several", kept)
	}
}

func TestCacheNoEvictionRefusesWrites(t *testing.T) {
	_, c := cacheRig(t, CacheConfig{MaxMemory: 10 * entrySize(), Policy: EvictNone, Samples: 5})
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%03d", i), testVal, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "k999", testVal, 0); !errors.Is(err, ErrCacheFull) {
		t.Fatalf("a write over the limit with noeviction: %v, want ErrCacheFull", err)
	}
	if st := c.Stats(); st.Keys != 10 || st.Evictions != 0 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
	// overwriting a key in place needs no room
	if err := c.Set(ctx, "k001", testVal, 0); err != nil {
		t.Errorf("overwrite: %v", err)
	}
}

func TestCacheVolatileTTLEvictsSoonestExpiringOnly(t *testing.T) {
	// room for 5 keys without a TTL and 5 with one (a TTL costs memory)
	_, c := cacheRig(t, CacheConfig{MaxMemory: 5*entrySize() + 5*Charge(4, len(testVal), true), Policy: EvictVolatileTTL, Samples: 10})
	ctx := context.Background()
	for i := 0; i < 5; i++ { // no TTL: never evicted
		if err := c.Set(ctx, fmt.Sprintf("p%03d", i), testVal, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ { // TTLs 10 s .. 50 s
		if err := c.Set(ctx, fmt.Sprintf("t%03d", i), testVal, time.Duration(i+1)*10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := c.Set(ctx, fmt.Sprintf("n%03d", i), testVal, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if !c.has(fmt.Sprintf("p%03d", i)) {
			t.Errorf("p%03d had no TTL and was evicted", i)
		}
	}
	evicted := 0
	for i := 0; i < 5; i++ {
		if !c.has(fmt.Sprintf("t%03d", i)) {
			evicted++
		}
	}
	if evicted != 3 {
		t.Errorf("%d keys with a TTL evicted, want 3", evicted)
	}
	if !c.has("t004") {
		t.Errorf("the key expiring last (t004) should outlive the sooner ones")
	}
	// only keys without a TTL left to make room from: refused
	_, c2 := cacheRig(t, CacheConfig{MaxMemory: 2 * entrySize(), Policy: EvictVolatileTTL, Samples: 5})
	_ = c2.Set(ctx, "p000", testVal, 0)
	_ = c2.Set(ctx, "p001", testVal, 0)
	if err := c2.Set(ctx, "p002", testVal, 0); !errors.Is(err, ErrCacheFull) {
		t.Errorf("volatile-ttl with no volatile keys: %v, want ErrCacheFull", err)
	}
}

func TestCacheTTLRunsOnTheLabClock(t *testing.T) {
	sys, c := cacheRig(t, CacheConfig{Policy: EvictLRU, Samples: 5})
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Second); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Pause()
	time.Sleep(300 * time.Millisecond) // real time passes while paused: the measurement, not a sync
	if _, hit, _ := c.Get(ctx, "k"); !hit {
		t.Fatalf("the key expired while the lab clock was paused")
	}
	sys.Clock.Resume()
	_ = sys.Clock.Sleep(ctx, 1300*time.Millisecond)
	if _, hit, _ := c.Get(ctx, "k"); hit {
		t.Errorf("the key outlived its 1 s TTL in lab time")
	}
	if st := c.Stats(); st.Keys != 0 || st.Used != 0 {
		t.Errorf("an expired key is still counted: %+v", st)
	}
}

func TestCacheHottestKeysWithTTLAndIdle(t *testing.T) {
	sys, c := cacheRig(t, CacheConfig{Policy: EvictLFU, Samples: 5})
	ctx := context.Background()
	_ = c.Set(ctx, "cold", testVal, 0)
	_ = c.Set(ctx, "hot", testVal, 10*time.Second)
	for i := 0; i < 5; i++ {
		_, _, _ = c.Get(ctx, "hot")
	}
	_ = sys.Clock.Sleep(ctx, time.Second)
	top := c.Hottest(1)
	if len(top) != 1 || top[0].Key != "hot" {
		t.Fatalf("hottest = %+v, want hot", top)
	}
	if ttl := top[0].TTLLeft; ttl <= 8*time.Second || ttl > 9*time.Second+100*time.Millisecond {
		t.Errorf("hot has %s of its 10 s TTL left after 1 s", ttl)
	}
	if idle := top[0].Idle; idle < time.Second {
		t.Errorf("hot idle %s, want at least 1 s", idle)
	}
}

func TestCacheConfigValidate(t *testing.T) {
	for _, cfg := range []CacheConfig{{Policy: "lru"}, {Policy: EvictLRU, Samples: 0}, {Policy: EvictLRU, Samples: 5, MaxMemory: -1}} {
		if cfg.Validate() == nil {
			t.Errorf("%+v should be refused", cfg)
		}
	}
}

// BenchmarkCacheSetEvicting measures a write that must evict, for sample
// counts and key counts: the cost follows the samples, not the keys.
func BenchmarkCacheSetEvicting(b *testing.B) {
	for _, keys := range []int{1000, 100000} {
		for _, samples := range []int{3, 5, 10} {
			b.Run(fmt.Sprintf("keys=%d/samples=%d", keys, samples), func(b *testing.B) {
				ks := NewKeyspace(CacheConfig{MaxMemory: int64(keys) * entrySize(), Policy: EvictLRU, Samples: samples}, 1)
				for i := 0; i < keys; i++ {
					ks.Put(fmt.Sprintf("k%07d", i), entrySize(), 0, time.Duration(i)*time.Millisecond)
				}
				names := make([]string, b.N)
				for i := range names {
					names[i] = fmt.Sprintf("n%07d", i)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := ks.Put(names[i], entrySize(), 0, time.Duration(keys+i)*time.Millisecond); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// ClampTTL shortens every longer TTL, on the server too.
func TestCacheClampTTL(t *testing.T) {
	sys, c := cacheRig(t, CacheConfig{Policy: EvictLRU, Samples: 5})
	ctx := context.Background()
	if err := c.Set(ctx, "long", "v", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "none", "v", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "short", "v", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.ClampTTL(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"long", "none"} {
		if c.Node().Real() {
			break // a real server is given no TTLs: the lab deletes them on its clock
		}
		if ttl := c.rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Second {
			t.Errorf("%s: server TTL %s after a clamp to 1s", k, ttl)
		}
	}
	for _, k := range c.Hottest(10) {
		if k.TTLLeft <= 0 || k.TTLLeft > time.Second {
			t.Errorf("%s: TTL left %s after a clamp to 1s", k.Key, k.TTLLeft)
		}
	}
	sys.Clock.Resume()
	enginetest.Eventually(t, "clamped keys expire", 5*time.Second, func() bool { return c.Stats().Keys == 0 })
}
