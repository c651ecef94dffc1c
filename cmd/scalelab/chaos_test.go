package main

import (
	"strings"
	"testing"
)

// A chaos script is checked whole before anything starts: an add the
// chapter cannot make, a remove or drain of a node outside the target
// group, is bad input naming its line, not an event halfway through.
func TestChaosScriptCheckedWhole(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		script string
		want   string
	}{
		{[]string{"loadbalancer", "--step", "3"}, "1s remove lb-1\n", "chaos:1: remove lb-1: only lb-1's targets"},
		{[]string{"loadbalancer", "--step", "3"}, "1s kill web-1\n2s remove db-1\n", "chaos:2: remove db-1"},
		{[]string{"loadbalancer", "--step", "3"}, "1s drain lb-1\n", "chaos:1: drain lb-1"},
		{[]string{"loadbalancer", "--step", "3"}, "1s add db\n", "chaos:1: add db: only web servers"},
		{[]string{"loadbalancer", "--step", "3"}, "1s add web\n2s kill web-9\n", "chaos:2:"},
		{[]string{"loadbalancer", "--step", "1"}, "1s remove web-1\n", "chaos:1: remove: not supported"},
		{[]string{"replication", "--step", "3"}, "1s add web\n", "chaos:1: add web: only a database replica"},
		{[]string{"cache"}, "1s add web\n", "chaos:1: add web: this chapter adds cache nodes"},
		{[]string{"tiers"}, "1s add web\n", "chaos:1: add: not supported"},
	} {
		args := append([]string{"run"}, tc.args...)
		args = append(args, "--duration", "3s", "--chaos", "-")
		code, stdout, stderr := runArgs(t, tc.script, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v %q: exit %d, stderr %q; want 2 and one line with %q", tc.args, tc.script, code, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v %q: nothing should run, but stdout has %q", tc.args, tc.script, stdout)
		}
	}
}

// Lines may name the node an earlier add line creates, and a link to it.
func TestChaosScriptMayNameAddedNodes(t *testing.T) {
	rep := runReport(t, "0.5s add web\n1s latency lb-1>web-4 20ms\n1.5s remove web-4\n",
		"run", "loadbalancer", "--step", "3", "--duration", "2s", "--json", "--chaos", "-")
	var got []string
	for _, e := range rep.Events {
		if e.Node == "chaos" {
			t.Errorf("a line failed as it ran: %s", e)
		}
		if e.Node == "web-4" || e.Node == "lb-1>web-4" {
			got = append(got, string(e.Kind))
		}
	}
	if strings.Join(got, " ") != "add latency remove" {
		t.Errorf("events of web-4: %v, want add latency remove; all: %v", got, rep.Events)
	}
}
