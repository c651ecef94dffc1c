package datacenters

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/repl"
)

// Every fact the chapter latches has a label in every language, the keys
// built at run time included.
func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, reg := range regions {
		extra = append(extra, reg.name+"_users_on_"+reg.prefer[0]+"_pct")
		for _, w := range []string{"one", "geo"} {
			extra = append(extra, "p50_ms_"+reg.name+"_"+w)
		}
		for _, m := range []string{repl.ModeAsync, repl.ModeSemiSync} {
			if reg.name != "ap" {
				extra = append(extra, "write_p50_ms_"+reg.name+"_"+kit.FactName(m))
			}
		}
	}
	for _, ttl := range append([]string{"fallback"}, ttlValues...) {
		extra = append(extra, "dc_failover_s_"+ttl, "failed_during_failover_"+ttl, "cached_left_s_"+ttl)
		if ttl != "fallback" {
			extra = append(extra, "dns_qps_"+ttl)
		}
	}
	chaptertest.CheckFactLabels(t, extra...)
}
