package fidelity

import (
	"context"
	"testing"
)

func TestStreams(t *testing.T) {
	if raceEnabled {
		t.Skip("timed in wall time, and CI runs it without the race detector (scalelab fidelity)")
	}
	tools := requireTools(t)
	rows, err := Streams(context.Background(), tools)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, knownStreamDiffs)
}
