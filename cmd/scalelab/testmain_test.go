package main

import (
	"os"
	"testing"

	"scalelab/internal/testlock"
)

// TestMain runs these tests while no other package's load tests run: they
// drive real load, and their figures must measure the lesson, not a
// neighbour's load. With SCALELAB_TEST_MAIN=1 the test binary is the
// scalelab command itself (main, its signal handling and exit status), for
// tests that run it as a child process; it takes no lock then.
func TestMain(m *testing.M) {
	if os.Getenv("SCALELAB_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(testlock.Main(m))
}
