package sharding

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9/logging"

	"scalelab/chapters/internal/chaptertest"
)

// TestMain silences go-redis (the celebrity step's cache is Redis) and
// runs these tests while no other package's load tests run: they drive
// real load, and their figures must measure the lesson, not a neighbour's
// load.
func TestMain(m *testing.M) {
	logging.Disable()
	os.Exit(chaptertest.Main(m, Sharding()))
}
