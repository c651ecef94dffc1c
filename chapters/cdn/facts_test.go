package cdn

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
)

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	// latency by region and route, cost by route
	for _, reg := range []string{"us", "eu", "ap"} {
		for _, route := range []string{"origin", "cdn"} {
			extra = append(extra, "p50_ms_"+reg+"_"+route)
		}
	}
	for _, route := range []string{"origin", "cdn"} {
		extra = append(extra, "egress_usd_per_h_"+route)
	}
	chaptertest.CheckFactLabels(t, extra...)
}
