package cache

import (
	"strings"
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine/cache"
)

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	// the chapter builds names from knob values
	for _, keys := range cacheKeyDists {
		for _, ttl := range cacheTTLs {
			extra = append(extra, "hit_pct_"+keys+"_"+ttl, "db_reads_per_s_"+keys+"_"+ttl)
		}
	}
	for _, p := range cache.CachePatterns() {
		extra = append(extra, "stale_per_1k_reads_"+strings.ReplaceAll(p, "-", "_"))
	}
	for _, m := range cacheMemories {
		extra = append(extra, "hit_pct_mem_"+strings.ToLower(m), "evictions_per_s_mem_"+strings.ToLower(m))
	}
	chaptertest.CheckFactLabels(t, extra...)
}
