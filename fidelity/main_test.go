package fidelity

import (
	"os"
	"testing"

	"scalelab/internal/testlock"
)

// TestMain runs the suite while no other package's load tests run: its
// rows time real servers in wall time (expiries, latencies), and a
// neighbour's load would measure the neighbour.
func TestMain(m *testing.M) {
	os.Exit(testlock.Main(m))
}
