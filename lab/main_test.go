package lab

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9/logging"

	"scalelab/internal/testlock"
)

// TestMain runs these tests while no other package's load tests run: they
// drive real load, and their figures must measure the lesson, not a
// neighbour's load. go-redis' dial errors (a killed cache makes them) are
// silenced as the binary silences them.
func TestMain(m *testing.M) {
	logging.Disable()
	os.Exit(testlock.Main(m))
}
