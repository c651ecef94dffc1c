package datacenters

import (
	"os"
	"testing"

	"scalelab/chapters/internal/chaptertest"
)

// TestMain runs these tests while no other package's load tests run: they
// drive real load, and their figures must measure the lesson, not a
// neighbour's load.
func TestMain(m *testing.M) { os.Exit(chaptertest.Main(m, Datacenters())) }
