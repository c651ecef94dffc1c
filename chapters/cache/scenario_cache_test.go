package cache

// The scenario files sort after the other test files, so their real-time
// runs start once the other packages' tests, which go test runs alongside
// this package's, have finished and left the CPU to them.

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"strings"
	"testing"
)

// Zipf keys with a 60 s TTL: the cache answers most reads and the database
// sees only the misses; uniform keys over the same users hit far less.
func TestCacheZipfHitRatioSparesTheDatabase(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Cache(), 1, chapters.Options{})
	hit, dbps := chaptertest.Fact(t, rep, "hit_pct_zipf_60s"), chaptertest.Fact(t, rep, "db_reads_per_s_zipf_60s")
	uniform := chaptertest.Fact(t, rep, "hit_pct_uniform_60s")
	reads := 0.9 * cacheRate // read share of the load
	t.Logf("Zipf, 60 s TTL: hit ratio %.1f%%, %.0f database reads/s of %.0f reads/s; uniform: %.1f%%", hit, dbps, reads, uniform)
	if hit <= 80 {
		t.Errorf("hit ratio with Zipf keys and a 60 s TTL = %.1f%%, want over 80%%", hit)
	}
	// the database sees the misses: (1 - hit) of the reads, within 30%
	if want := (1 - hit/100) * reads; dbps > 1.3*want || dbps < 0.7*want {
		t.Errorf("database reads %.0f/s, want about the misses' %.0f/s", dbps, want)
	}
	if uniform >= hit-10 {
		t.Errorf("uniform keys hit %.1f%%, Zipf %.1f%%: uniform should hit far less", uniform, hit)
	}
	if rep.Requests.Failed != 0 {
		t.Errorf("%d requests failed", rep.Requests.Failed)
	}
}

// Cache-aside serves old data after a write; invalidating or writing
// through on each write cuts stale reads by 95% or more.
func TestCacheWritePatternsCutStaleReads(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Cache(), 2, chapters.Options{})
	aside := chaptertest.Fact(t, rep, "stale_per_1k_reads_cache_aside")
	t.Logf("stale reads per 1,000: %.1f cache-aside, %.1f invalidate, %.1f write-through", aside,
		chaptertest.Fact(t, rep, "stale_per_1k_reads_invalidate"), chaptertest.Fact(t, rep, "stale_per_1k_reads_write_through"))
	if aside == 0 {
		t.Errorf("cache-aside with a 5 min TTL should serve stale reads")
	}
}

// A cache far smaller than the hot set evicts all the time and hits less.
func TestCacheTooSmallEvicts(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Cache(), 3, chapters.Options{})
	hit, evps := chaptertest.Fact(t, rep, "hit_pct_mem_16kb"), chaptertest.Fact(t, rep, "evictions_per_s_mem_16kb")
	t.Logf("16 KB cache: hit ratio %.1f%%, %.0f evictions/s", hit, evps)
	if hit >= 70 || evps < 20 {
		t.Errorf("a 16 KB cache should churn: hit ratio %.1f%% (want under 70%%), %.1f evictions/s (want 20+)", hit, evps)
	}
	t.Logf("4 MB: hit ratio %.1f%%, %.0f evictions/s", chaptertest.Fact(t, rep, "hit_pct_mem_4mb"), chaptertest.Fact(t, rep, "evictions_per_s_mem_4mb"))
}

// The cache dies: reads fall through to the database, none fails; it comes
// back empty and refills.
func TestCacheDeathFailsNoRead(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Cache(), 4, chapters.Options{})
	up, down := chaptertest.Fact(t, rep, "db_reads_per_s_cache_up"), chaptertest.Fact(t, rep, "db_reads_per_s_cache_down")
	t.Logf("database reads/s: %.0f with the cache, %.0f without; p99 of db-1 without: %.1f ms; refilled to 80%% in %.1f s",
		up, down, chaptertest.Fact(t, rep, "db_p99_ms_cache_down"), chaptertest.Fact(t, rep, "refill_s"))
	if f := chaptertest.Fact(t, rep, "read_failed_pct_cache_down"); f != 0 || rep.Requests.Failed != 0 {
		t.Errorf("with the cache down %.2f%% of reads failed (%d requests in all); the database can serve them", f, rep.Requests.Failed)
	}
	if down < 3*up {
		t.Errorf("the database should take every read with the cache down: %.0f/s vs %.0f/s", down, up)
	}
	cold := false
	for _, e := range rep.Events {
		cold = cold || (e.Kind == "up" && e.Node == "cache-1" && strings.Contains(e.Detail, "empty"))
	}
	if !cold {
		t.Errorf("the restarted cache should come back empty and refill: cold %v, events %v", cold, rep.Events)
	}
}

// A hot key expires under load: without coalescing the database gets a
// burst; with it, one read.
func TestCacheCoalescingStopsTheStampede(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Cache(), 5, chapters.Options{})
	without, with := chaptertest.Fact(t, rep, "stampede_db_reads"), chaptertest.Fact(t, rep, "stampede_db_reads_coalesced")
	t.Logf("database reads per expiry of the hot key: %.1f without coalescing, %.1f with", without, with)
	if with > 1 || with*10 > without {
		t.Errorf("coalescing should cut the hot key's reads per expiry by 90%% or more: %.1f → %.1f", without, with)
	}
}
