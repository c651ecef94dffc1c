package replication

import (
	"os"
	"testing"

	"scalelab/internal/testlock"
)

// TestMain runs these tests while no other package's load tests run: they
// drive real load, and their figures must measure the lesson, not a
// neighbour's load.
func TestMain(m *testing.M) { os.Exit(testlock.Main(m)) }
