package fidelity

import (
	"context"
	"testing"
)

func TestTTL(t *testing.T) {
	tools := requireTools(t)
	rows, err := TTL(context.Background(), tools)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, knownTTLDiffs)
}
