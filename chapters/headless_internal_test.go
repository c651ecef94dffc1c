package chapters

import (
	"scalelab/engine"
	"testing"
)

// A script may name a node an earlier `add` line creates.
func TestAddedByScript(t *testing.T) {
	added := map[string]bool{"cache": true}
	unknown := engine.ErrUnknownTarget
	for _, tc := range []struct {
		a    engine.Action
		err  error
		want bool
	}{
		{engine.Action{Kind: engine.ActKill, Target: "cache-2"}, unknown, true},
		{engine.Action{Kind: engine.ActKill, Target: "cache-x"}, unknown, false},
		{engine.Action{Kind: engine.ActKill, Target: "db-2"}, unknown, false},
		{engine.Action{Kind: engine.ActKill, Target: "cache-2"}, engine.ErrNotSupported, false},
		{engine.Action{Kind: engine.ActCut, Target: "cache-2,cache-3"}, unknown, true},
		{engine.Action{Kind: engine.ActLatency, Target: "web-1>cache-2"}, unknown, false},
	} {
		if got := addedByScript(added, tc.a, tc.err); got != tc.want {
			t.Errorf("%v (%v): %v, want %v", tc.a, tc.err, got, tc.want)
		}
	}
}
