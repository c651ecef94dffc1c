package loadbalancer

import (
	"strings"
	"testing"

	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine/lb"
)

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, p := range lb.PolicyNames() {
		extra = append(extra, "p99_ms_"+strings.ReplaceAll(p, "-", "_"))
	}
	chaptertest.CheckFactLabels(t, extra...)
}
