package tiers

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine"
)

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, store := range []string{"sql", "kv"} {
		for _, op := range []engine.Op{engine.OpRead, engine.OpFeed, engine.OpWrite} {
			extra = append(extra, store+"_"+string(op)+"_p50_ms")
		}
	}
	for _, size := range engine.SizeNames() {
		extra = append(extra, "feed_p99_ms_db_"+size)
	}
	chaptertest.CheckFactLabels(t, extra...)
}
