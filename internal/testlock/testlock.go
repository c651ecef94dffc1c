// Package testlock lets the test binaries that drive real load take turns.
// `go test ./...` runs packages side by side; two loads under the race
// detector on a 2-core machine starve each other, and then latencies and
// failures measure the contention, not the lesson. Each such package's
// TestMain holds one machine-wide lock while its tests run, so they run one
// package at a time while light packages still run beside them. Only tests
// import this package.
package testlock

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// name is an abstract Unix socket (Linux): the kernel frees it when the
// holder exits, however it exits, and it leaves no file behind.
const name = "@scalelab-load-tests"

// Main runs the package's tests while holding the lock and returns the
// exit code for os.Exit. A fuzzing run takes no lock: its workers are
// processes of the same test binary, and would wait for their coordinator.
func Main(m *testing.M) int {
	if !fuzzing() {
		if ln := acquire(); ln != nil {
			defer ln.Close()
		}
	}
	return m.Run()
}

func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
}

// acquire waits for the lock. It returns nil where abstract sockets are not
// supported: the tests then run unserialised.
func acquire() net.Listener {
	for {
		ln, err := net.Listen("unix", name)
		if err == nil {
			return ln
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // another load test package holds it
	}
}
