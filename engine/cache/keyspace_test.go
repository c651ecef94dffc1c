package cache

import (
	"fmt"
	"testing"
	"time"
)

// MEMORY USAGE of a string key as redis-server 7.0.15 (jemalloc) answered
// it, by key and value length: Charge adds only the bucket share to it.
func TestChargeMatchesRedisMemoryUsage(t *testing.T) {
	measured := []struct{ key, val, usage int }{
		{9, 10, 72}, {9, 30, 104}, {9, 44, 104}, {9, 45, 120}, {9, 60, 120}, {9, 80, 152},
		{9, 100, 168}, {9, 120, 184}, {9, 150, 216}, {9, 200, 280}, {9, 300, 376}, {1, 100, 160}, {1, 10, 64},
	}
	for _, m := range measured {
		if got := Charge(m.key, m.val, false) - 16; got != int64(m.usage) {
			t.Errorf("key %d B, value %d B: charged %d + 16, Redis' MEMORY USAGE says %d", m.key, m.val, got, m.usage)
		}
	}
}

// The LFU counter is Redis': a new key starts at 5 and the counter grows
// about logarithmically (Redis' table for lfu-log-factor 10: 100 hits ~10,
// 1000 hits ~18).
func TestLFUCounterIsLogarithmic(t *testing.T) {
	ks := NewKeyspace(CacheConfig{Policy: EvictLFU}, 7)
	ks.Put("k", 100, 0, 0)
	if c := ks.meta["k"].counter; c != lfuInit {
		t.Fatalf("a new key's counter is %d, want %d", c, lfuInit)
	}
	for i := 1; i <= 1000; i++ {
		ks.Touch("k", 0)
		c := ks.meta["k"].counter
		switch i {
		case 100:
			if c < 8 || c > 13 {
				t.Errorf("after 100 hits the counter is %d, want about 10", c)
			}
		case 1000:
			if c < 14 || c > 26 {
				t.Errorf("after 1000 hits the counter is %d, want about 18", c)
			}
		}
	}
}

// A key that was hot once loses its count while idle, one a minute, when
// an eviction looks at it, not only when it is read again: after 30 idle
// minutes it is evicted before a key that is warm now.
func TestLFUDecaysWhenEvaluated(t *testing.T) {
	ks := NewKeyspace(CacheConfig{Policy: EvictLFU, Samples: 64, MaxMemory: 3 * 100}, 1)
	ks.Put("once-hot", 100, 0, 0)
	for range 2000 {
		ks.Touch("once-hot", 0)
	}
	hot := ks.meta["once-hot"].counter
	later := 30 * time.Minute
	ks.Put("warm", 100, 0, later)
	for range 30 {
		ks.Touch("warm", later)
	}
	warm := ks.meta["warm"].counter
	if int(hot)-30 >= int(warm) {
		t.Fatalf("counters %d and %d: the test needs the decayed one lower", hot, warm)
	}
	victims, err := ks.Put("new", 100, 0, later)
	if err == nil && len(victims) == 0 {
		ks.Put("new2", 100, 0, later)
	}
	if _, ok := ks.meta["once-hot"]; ok {
		t.Errorf("once-hot (counter %d, 30 minutes idle) kept, warm (counter %d) evicted: %v", hot, warm, victims)
	}
}

// LRU with the pool evicts from the least recently used: keys read at
// distinct seconds, 1000 evictions, and the evicted come from the oldest.
func TestLRUPoolEvictsTheOldest(t *testing.T) {
	const n = 1000
	ks := NewKeyspace(CacheConfig{Policy: EvictLRU, Samples: 5, MaxMemory: n * 100}, 3)
	for i := range n {
		ks.Put(fmt.Sprintf("k%04d", i), 100, 0, time.Duration(i)*time.Second)
	}
	now := time.Duration(n) * time.Second
	oldest := 0
	for i := range 100 {
		victims, err := ks.Put(fmt.Sprintf("n%04d", i), 100, 0, now)
		if err != nil || len(victims) != 1 {
			t.Fatalf("write %d: evicted %v, %v", i, victims, err)
		}
		var k int
		if _, err := fmt.Sscanf(victims[0], "k%04d", &k); err == nil && k < n/4 {
			oldest++
		}
	}
	// sampling 5 of 1000 alone picks from the oldest quarter 76% of the
	// time; the pool keeps the best candidates of earlier samples
	if oldest < 85 {
		t.Errorf("%d of 100 victims from the oldest quarter, want 85 or more", oldest)
	}
}
