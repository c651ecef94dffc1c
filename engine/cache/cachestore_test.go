package cache

import (
	"context"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingDB is a database stand-in that counts reads and can be slow (in
// lab time), so the store's effect on database load is measured exactly.
type countingDB struct {
	clock *engine.Clock
	delay time.Duration
	reads atomic.Int64
	mu    sync.Mutex
	rows  map[int]int
}

func (d *countingDB) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if d.delay > 0 {
		if err := d.clock.Sleep(ctx, d.delay); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if op == engine.OpWrite {
		d.rows[key]++
		return []byte(`{}`), nil
	}
	d.reads.Add(1)
	return []byte(fmt.Sprintf(`{"key":%d,"posts":%d}`, key, d.rows[key])), nil
}

func storeRig(t *testing.T, ttl time.Duration) (*engine.System, *CacheStore, *countingDB) {
	t.Helper()
	sys, c := cacheRig(t, CacheConfig{Policy: EvictLRU, Samples: 5})
	db := &countingDB{clock: sys.Clock, rows: map[int]int{}}
	return sys, NewCacheStore(c, db, sys.Clock, ttl), db
}

func TestCacheStoreHitsSpareTheDatabase(t *testing.T) {
	_, s, db := storeRig(t, time.Minute)
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		for k := 0; k < 100; k++ {
			if _, err := s.Do(ctx, engine.OpRead, k, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.Stats()
	if st.Hits != 900 || st.Misses != 100 || db.reads.Load() != 100 || st.HitRatio() != 0.9 {
		t.Errorf("stats %+v, db reads %d; want 900 hits, 100 misses, 100 db reads", st, db.reads.Load())
	}
}

func TestCacheStorePatternsAndStaleReads(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		pattern   string
		wantStale int64
		wantHit   bool
	}{
		{PatternCacheAside, 1, true},   // the old copy is served until its TTL
		{PatternInvalidate, 0, false},  // the key is gone: the next read misses
		{PatternWriteThrough, 0, true}, // the new value is already cached
	} {
		_, s, _ := storeRig(t, time.Minute)
		if err := s.SetPattern(tc.pattern); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Do(ctx, engine.OpRead, 7, ""); err != nil { // cached at version 0
			t.Fatal(err)
		}
		if _, err := s.Do(ctx, engine.OpWrite, 7, "new post"); err != nil {
			t.Fatal(err)
		}
		before := s.Stats()
		out, err := s.Do(ctx, engine.OpRead, 7, "")
		if err != nil {
			t.Fatal(err)
		}
		after := s.Stats()
		if got := after.Stale - before.Stale; got != tc.wantStale {
			t.Errorf("%s: %d stale reads after a write, want %d (served %s)", tc.pattern, got, tc.wantStale, out)
		}
		if hit := after.Hits > before.Hits; hit != tc.wantHit {
			t.Errorf("%s: hit = %v, want %v", tc.pattern, hit, tc.wantHit)
		}
	}
	if err := (&CacheStore{}).SetPattern("write-around"); err == nil {
		t.Errorf("an unknown pattern must be refused")
	}
}

func TestCacheStoreTTLEndsStaleness(t *testing.T) {
	sys, s, db := storeRig(t, time.Second)
	ctx := context.Background()
	_, _ = s.Do(ctx, engine.OpRead, 1, "")
	_, _ = s.Do(ctx, engine.OpWrite, 1, "x")
	_ = sys.Clock.Sleep(ctx, 1300*time.Millisecond)
	_, _ = s.Do(ctx, engine.OpRead, 1, "")
	if st := s.Stats(); st.Stale != 0 || db.reads.Load() != 2 {
		t.Errorf("after the TTL the read should miss and be fresh: %+v, db reads %d", st, db.reads.Load())
	}
}

// stampede sends n concurrent reads of one missing key to a slow database
// and returns how many database reads they made; the store's burst count
// must agree.
func stampede(t *testing.T, coalesce bool, n int) int64 {
	_, s, db := storeRig(t, time.Minute)
	defer func() {
		b := s.Bursts("read:42")
		if b.Reads != db.reads.Load() || b.Bursts < 1 || perBurst(b) > float64(b.Reads) {
			t.Errorf("bursts %+v, db reads %d", b, db.reads.Load())
		}
		var wantCo int64 // bursts begun with coalescing on: all or none here
		if coalesce {
			wantCo = b.Bursts
		}
		if b.CoBursts != wantCo {
			t.Errorf("coalesce %v: bursts %+v", coalesce, b)
		}
	}()
	db.delay = 50 * time.Millisecond
	s.SetCoalesce(coalesce)
	var wg sync.WaitGroup
	ctx := context.Background()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Do(ctx, engine.OpRead, 42, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return db.reads.Load()
}

func TestCacheStoreCoalescingStopsAStampede(t *testing.T) {
	without, with := stampede(t, false, 50), stampede(t, true, 50)
	t.Logf("50 concurrent misses of one hot key: %d database reads without coalescing, %d with", without, with)
	if without < 25 {
		t.Errorf("without coalescing most misses should reach the database: %d of 50", without)
	}
	if with*10 > without {
		t.Errorf("coalescing should cut database reads by at least 90%%: %d vs %d", with, without)
	}
}

func TestCacheStoreSurvivesADeadCache(t *testing.T) {
	_, s, db := storeRig(t, time.Minute)
	ctx := context.Background()
	_, _ = s.Do(ctx, engine.OpRead, 1, "")
	if err := s.Caches()[0].node.Kill(); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 20; k++ {
		if _, err := s.Do(ctx, engine.OpRead, k, ""); err != nil {
			t.Fatalf("with the cache dead, a read the database can serve failed: %v", err)
		}
	}
	if st := s.Stats(); st.CacheErrors == 0 || db.reads.Load() < 20 {
		t.Errorf("reads should go to the database and the cache errors be counted: %+v, db reads %d", st, db.reads.Load())
	}
}

// With two cache nodes, keys are split between them; one node's death
// sends only its keys to the database, and no read fails.
func TestCacheStoreTwoNodes(t *testing.T) {
	sys, s, db := storeRig(t, time.Minute)
	kv2, err := kv.NewCacheNode(sys, "cache-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(kv2); err != nil {
		t.Fatal(err)
	}
	c2, err := NewCache(sys, kv2, CacheConfig{Policy: EvictLRU, Samples: 5})
	if err != nil {
		t.Fatal(err)
	}
	s.AddCache(c2)
	ctx := context.Background()
	for k := 0; k < 400; k++ {
		if _, err := s.Do(ctx, engine.OpRead, k, ""); err != nil {
			t.Fatal(err)
		}
	}
	k1, k2 := s.Caches()[0].Stats().Keys, c2.Stats().Keys
	if k1+k2 != 400 || k1 < 150 || k2 < 150 {
		t.Fatalf("400 keys split %d / %d over two nodes", k1, k2)
	}
	if err := kv2.Kill(); err != nil {
		t.Fatal(err)
	}
	before := db.reads.Load()
	for k := 0; k < 400; k++ {
		if _, err := s.Do(ctx, engine.OpRead, k, ""); err != nil {
			t.Fatalf("a read failed with one cache node dead: %v", err)
		}
	}
	if got := db.reads.Load() - before; got != int64(k2) {
		t.Errorf("with cache-2 dead, %d reads reached the database, want its %d keys", got, k2)
	}
}

// A cache node comes back from a restart empty, and the store fills it again.
func TestCacheNodeRestartsCold(t *testing.T) {
	sys, s, db := storeRig(t, time.Minute)
	ctx := context.Background()
	for k := 0; k < 50; k++ {
		_, _ = s.Do(ctx, engine.OpRead, k, "")
	}
	node := s.Caches()[0].Node()
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	// the process is gone, and its memory with it; reads while it is down
	// store nothing and are not counted on it
	before := node.Snap().Requests
	for k := 0; k < 10; k++ {
		_, _ = s.Do(ctx, engine.OpRead, k, "")
	}
	if st := s.Caches()[0].Stats(); st.Keys != 0 || st.Used != 0 || node.Snap().Requests != before {
		t.Fatalf("dead cache: %d keys (%d bytes), requests %d → %d", st.Keys, st.Used, before, node.Snap().Requests)
	}
	if err := node.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "cache back up", 5*time.Second, func() bool { return node.State() == engine.StateUp })
	if n, _ := node.DBSize(ctx); n != 0 || s.Caches()[0].Stats().Keys != 0 || s.Caches()[0].Stats().Used != 0 {
		st := s.Caches()[0].Stats()
		t.Fatalf("restarted cache holds %d keys (%d bytes), redis %d", st.Keys, st.Used, n)
	}
	if !enginetest.HasEvent(sys, engine.EvUp, "cache-1") {
		t.Error("no up event")
	}
	before = db.reads.Load()
	for k := 0; k < 50; k++ {
		_, _ = s.Do(ctx, engine.OpRead, k, "")
	}
	if got := db.reads.Load() - before; got != 50 {
		t.Errorf("a cold cache should miss every key once: %d database reads", got)
	}
	if n := node.Snap(); n.Role != kv.RoleCache || len(n.Lines) < 5 || n.Requests == 0 {
		t.Errorf("cache node snap: role %s, %d lines, %d requests", n.Role, len(n.Lines), n.Requests)
	}
}

// perBurst is the mean number of database reads per load of the key.
func perBurst(b BurstStats) float64 {
	if b.Bursts == 0 {
		return 0
	}
	return float64(b.Reads) / float64(b.Bursts)
}
