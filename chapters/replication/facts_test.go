package replication

import (
	"strings"
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine/repl"
)

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	// the chapter builds names from knob values
	for _, d := range []string{"50ms", "200ms", "1s"} {
		extra = append(extra, "stale_per_1k_reads_"+d)
	}
	for _, m := range []string{repl.ModeAsync, repl.ModeSemiSync} {
		extra = append(extra, "lost_writes_"+strings.ReplaceAll(m, "-", "_"), "write_p50_ms_"+strings.ReplaceAll(m, "-", "_"))
	}
	for _, w := range []string{repl.WaitAfterSync, repl.WaitAfterCommit} {
		extra = append(extra, "phantom_reads_"+strings.ReplaceAll(w, "-", "_"), "write_p50_ms_"+strings.ReplaceAll(w, "-", "_"))
	}
	for _, v := range []string{"0", "1"} {
		extra = append(extra, "split_brain_writes_min_replicas_"+v)
	}
	chaptertest.CheckFactLabels(t, extra...)
}
