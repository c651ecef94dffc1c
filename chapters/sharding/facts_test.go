package sharding

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/chapters/internal/kit"
)

// Every fact the chapter latches has a label in every language, the keys
// built at run time included.
func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, n := range []string{"1", "2", "4"} {
		extra = append(extra, "writes_per_s_"+n, "writes_per_s_"+n+"_r2")
	}
	for _, k := range keyValues {
		k = kit.FactName(k)
		extra = append(extra, "hot_share_pct_"+k, "signup_share_pct_"+k, "rows_spread_"+k)
	}
	for _, s := range strategyValues {
		extra = append(extra, "moved_pct_"+s, "theory_pct_"+s, "reshard_s_"+s, "lost_rows_"+s, "kept_writes_"+s, "move_p99_ms_"+s, "before_p99_ms_"+s)
	}
	labels := append([]string{"c0", "c30"}, fixValues...)
	for _, l := range labels {
		extra = append(extra, "hot_share_pct_"+l)
		for _, tag := range []string{tagNeighbour, tagOther, tagCelebrity} {
			extra = append(extra, tag+"_p99_ms_"+l)
		}
	}
	for _, f := range feedValues {
		extra = append(extra, f+"_p99_ms", f+"_p50_ms", "post_p99_ms_"+f, "post_p50_ms_"+f)
		for _, n := range []string{"2", "4", "8"} {
			extra = append(extra, f+"_p99_ms_s"+n, f+"_p50_ms_s"+n)
		}
	}
	chaptertest.CheckFactLabels(t, extra...)
}
