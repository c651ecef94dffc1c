package queue

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
)

// Every fact the chapter latches has a label in every language, the keys
// built at run time included.
func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, n := range workerValues {
		extra = append(extra, "drain_s_w"+n, "max_depth_w"+n)
	}
	for _, p := range partitionValues {
		extra = append(extra, "events_p"+p, "out_of_order_p"+p, "out_of_order_pct_p"+p)
	}
	for _, m := range modeValues {
		extra = append(extra, "spike_failed_pct_"+m, "spike_orders_"+m, "spike_p50_ms_"+m, "before_p50_ms_"+m)
	}
	for _, v := range []string{"off", "on"} {
		extra = append(extra, "duplicates_idem_"+v, "double_effects_idem_"+v)
	}
	chaptertest.CheckFactLabels(t, extra...)
}
