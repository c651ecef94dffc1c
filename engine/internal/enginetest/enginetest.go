// Package enginetest has the helpers the engine's and the components' tests
// share. Only tests import it, so none of it is in the binary.
package enginetest

import (
	"net/http"
	"testing"
	"time"

	"scalelab/engine"
)

// Eventually polls cond until it holds or within (real time) passes.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Client is a test client that keeps no idle connections, so a killed
// server is dialled afresh and nothing lingers after a test.
func Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
}

// System is a running (unpaused) empty system closed at the end of the test.
func System(t testing.TB, speed float64) *engine.System {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	if err := sys.Clock.SetSpeed(speed); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	return sys
}

// HasEvent reports whether the system logged an event of kind about node.
func HasEvent(sys *engine.System, kind engine.EventKind, node string) bool {
	for _, e := range sys.Events.All() {
		if e.Kind == kind && e.Node == node {
			return true
		}
	}
	return false
}
