package cache

import (
	"os"
	"testing"

	"scalelab/chapters/internal/chaptertest"

	"github.com/redis/go-redis/v9/logging"
)

// TestMain silences go-redis, which logs every failed dial to stderr: these
// tests kill cache nodes on purpose (the binary does the same in main). The
// tests run while no other package's load tests run: they drive real load,
// and their figures must measure the lesson, not a neighbour's load.
func TestMain(m *testing.M) {
	logging.Disable()
	os.Exit(chaptertest.Main(m, Cache()))
}
