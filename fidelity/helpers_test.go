package fidelity

import (
	"os"
	"testing"
)

// requireTools finds the real programs; without them the test is skipped,
// unless SCALELAB_FIDELITY_REQUIRED=1 (as CI sets), when it fails.
func requireTools(t *testing.T) Tools {
	t.Helper()
	tools, err := FindTools("")
	if err != nil {
		if os.Getenv("SCALELAB_FIDELITY_REQUIRED") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return tools
}

// checkRows logs every row and fails on any that differs beyond its
// tolerance, except the known differences: rows (named by their case
// without its step number) where the lab's component is known to differ
// from the real software. Those must still differ, so a fix upstream
// shows as a failure here and the entry is removed.
func checkRows(t *testing.T, rows []Row, known map[string]string) {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Log(r)
		name := stepNumber.ReplaceAllString(r.Case, "")
		why, isKnown := known[name]
		seen[name] = true
		switch {
		case isKnown && r.Pass:
			t.Errorf("known difference no longer differs (remove it from the list): %s", r)
		case isKnown:
			t.Logf("  known difference: %s", why)
		case !r.Pass:
			t.Errorf("differs: %s", r)
		}
	}
	for name := range known {
		if !seen[name] {
			t.Errorf("known difference %q names no row", name)
		}
	}
}
