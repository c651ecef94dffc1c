package cache

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9/logging"
)

// TestMain silences go-redis, which logs every failed dial to stderr: these
// tests kill cache nodes on purpose. The binary does the same in main.
func TestMain(m *testing.M) {
	logging.Disable()
	os.Exit(m.Run())
}
