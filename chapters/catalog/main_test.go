package catalog_test

import (
	"os"
	"testing"

	"scalelab/internal/testlock"
)

// TestMain takes its turn with the load-test packages: building every
// step's topology (SQLite files seeded, servers started) is heavy under
// the race detector, and beside a chapter's load test it made that test's
// requests fail (116 in the cache chapter's Zipf test, in a full run).
func TestMain(m *testing.M) { os.Exit(testlock.Main(m)) }
