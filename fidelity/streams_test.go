package fidelity

import (
	"context"
	"testing"
)

func TestStreams(t *testing.T) {
	tools := requireTools(t)
	rows, err := Streams(context.Background(), tools)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, knownStreamDiffs)
}
