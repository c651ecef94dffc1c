package main

import (
	"strings"
	"testing"
)

// Bad input to fidelity is one message and exit status 2, with nothing
// run; --help is the truth about the areas.
func TestFidelityBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fidelity", "--only", "cache,disk"}, `"disk" is not one of cache, lb, streams, ttl`},
		{[]string{"fidelity", "extra"}, `fidelity takes no arguments, got "extra"`},
		{[]string{"fidelity", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"fidelity", "--redis-server", "/nonexistent/redis-server"}, "install with: sudo apt-get install"},
	} {
		code, out, errOut := runArgs(t, "", c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line with %q", c.args, code, out, errOut, c.want)
		}
	}
	code, out, _ := runArgs(t, "", "fidelity", "--help")
	if code != 0 || !strings.Contains(out, "Usage: scalelab fidelity") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	for _, a := range fidelityAreas {
		if !strings.Contains(out, "\n  "+a+" ") {
			t.Errorf("--help does not describe %s", a)
		}
	}
}
