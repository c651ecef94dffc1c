package fidelity

import (
	"context"
	"testing"
)

// The lab's eviction against redis-server's on the trace: every
// row within its tolerance (hit ratios within one point per policy and
// capacity, the memory a key costs within 5%).
func TestCacheAgreesWithRedis(t *testing.T) {
	if raceEnabled {
		t.Skip("1.8 million commands through a client under the race detector take minutes; CI runs the suite without it (scalelab fidelity)")
	}
	tools := requireTools(t)
	rows, err := Cache(context.Background(), tools, DefaultCacheTrace)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		t.Log(r)
		if !r.Pass {
			t.Errorf("outside its tolerance: %s", r)
		}
	}
}
