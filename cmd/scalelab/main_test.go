package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scalelab/chapters"
	"scalelab/chapters/catalog"
)

func runArgs(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cfg := t.TempDir()
	return runIn(t, cfg, stdin, args...)
}

func runIn(t *testing.T, cfg, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "SCALELAB_CONFIG_DIR":
			return cfg
		case "LANG":
			return "en_US.UTF-8"
		}
		return ""
	}
	code = run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: getenv})
	return code, out.String(), errb.String()
}

func TestBadInputExitsTwoWithOneClearLine(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bad.chaos")
	if err := os.WriteFile(script, []byte("1s kill web-1\n# fine\n3s latency web-1 fast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "nosuch"}, `unknown chapter "nosuch"`},
		{[]string{"run"}, "run takes one chapter"},
		{[]string{"run", "tiers", "--duration", "soon"}, "duration"},
		{[]string{"run", "tiers", "--duration", "0s"}, "--duration 0s"},
		{[]string{"run", "tiers", "--step", "7"}, "tiers has steps 1 to 3"},
		{[]string{"run", "tiers", "--rate", "-5"}, "--rate -5"},
		{[]string{"run", "tiers", "--rate", "NaN"}, "--rate NaN"},
		{[]string{"run", "tiers", "--chaos", "/no/such/file"}, "--chaos"},
		{[]string{"run", "loadbalancer", "--chaos", script}, "bad.chaos:3: latency \"fast\""},
		{[]string{"--lang", "fr"}, `--lang "fr"`},
		{[]string{"--chapter", "99"}, `unknown chapter "99"`},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"run", "tiers", "--solution", "--chaos", "-"}, "--solution and --chaos"},
		{[]string{"run", "cache", "--redis-server", "/no/such/redis-server"}, "--redis-server: /no/such/redis-server: not a usable redis-server: not found"},
		{[]string{"--redis-server", script}, "bad.chaos: not a usable redis-server: not executable"},
	} {
		code, _, stderr := runArgs(t, "", tc.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, stderr)
		}
		if !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: stderr %q, want one line containing %q", tc.args, stderr, tc.want)
		}
	}
}

func TestChaosTargetNotInTopologyIsBadInput(t *testing.T) {
	code, stdout, stderr := runArgs(t, "2s kill web-1\n4s kill db-9\n", "run", "loadbalancer", "--duration", "5s", "--chaos", "-")
	if code != 2 || !strings.Contains(stderr, "chaos:2:") || !strings.Contains(stderr, "db-9") {
		t.Fatalf("exit %d, stderr %q; want 2 and chaos:2 naming db-9", code, stderr)
	}
	if stdout != "" {
		t.Errorf("nothing should run, but stdout has %q", stdout)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"help", "run"}} {
		code, stdout, _ := runArgs(t, "", args...)
		if code != 0 || !strings.Contains(stdout, "Usage") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
	// the chapters come from the catalog
	_, stdout, _ := runArgs(t, "", "--help")
	for _, ch := range catalog.All() {
		if !strings.Contains(stdout, fmt.Sprintf("%d %s", ch.Number, ch.ID)) {
			t.Errorf("--help does not list chapter %d %s", ch.Number, ch.ID)
		}
	}
	_, stdout, _ = runArgs(t, "", "run", "--help")
	for _, want := range []string{"--duration", "--rate", "--chaos", "--json", "--seed", "--step", "spike 5x 10s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run --help lacks %s", want)
		}
	}
}

// runReport runs scalelab with --json, wants exit 0, and decodes the report.
func runReport(t *testing.T, stdin string, args ...string) chapters.Report {
	t.Helper()
	code, stdout, stderr := runArgs(t, stdin, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep chapters.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	return rep
}

// --solution plays the step's solution: here scaling step 3's kill of
// web-2 at 2 s, cut short by --duration.
func TestRunSolution(t *testing.T) {
	rep := runReport(t, "", "run", "scaling", "--step", "3", "--solution", "--duration", "4s", "--json")
	if rep.DurationS < 4 || rep.DurationS > 4.2 {
		t.Errorf("--duration 4s ran %v s", rep.DurationS)
	}
	if len(rep.Events) == 0 || rep.Events[0].Kind != "kill" || rep.Events[0].Node != "web-2" || rep.Events[0].TMs < 2000 {
		t.Errorf("want the solution's kill of web-2 at 2 s first, got %+v", rep.Events)
	}
}

// A headless pause holds the lab clock until the script's resume; a pause
// with no resume is refused before anything starts.
func TestHeadlessPauseAndResume(t *testing.T) {
	rep := runReport(t, "1s pause\n2.5s resume\n", "run", "scaling", "--step", "3", "--duration", "3s", "--rate", "50", "--json", "--chaos", "-")
	at := map[string]int64{}
	for _, e := range rep.Events {
		at[string(e.Kind)] = e.TMs
	}
	pause, okP := at["pause"]
	resume, okR := at["resume"]
	if !okP || !okR || resume != pause || rep.DurationS < 3 || rep.DurationS > 3.2 {
		t.Errorf("want a pause and a resume at the same lab time and 3 s of lab time in all: %+v", rep)
	}
	code, _, stderr := runArgs(t, "1s pause\n", "run", "scaling", "--step", "3", "--duration", "3s", "--chaos", "-")
	if code != 2 || !strings.Contains(stderr, "chaos:1: pause with no later resume") {
		t.Errorf("a pause with no resume: exit %d, %q; want 2 and the line named", code, stderr)
	}
	// a line past the run's end is an error, not dropped
	code, _, stderr = runArgs(t, "1s kill web-1\n5s kill web-2\n", "run", "scaling", "--step", "3", "--duration", "3s", "--chaos", "-")
	if code != 2 || !strings.Contains(stderr, "chaos:2: at 5s: past the end of the run") {
		t.Errorf("a line past --duration: exit %d, %q; want 2 and the line named", code, stderr)
	}
}

func TestRunJSONReport(t *testing.T) {
	code, stdout, stderr := runArgs(t, "1s kill web-2\n", "run", "scaling", "--step", "3", "--duration", "4s", "--rate", "80", "--json", "--chaos", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stderr, "rate"); n < 3 {
		t.Errorf("want a status line a second on stderr, got %d: %q", n, stderr)
	}
	// each second once, in order
	prev := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var sec int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%ds", &sec); err != nil || sec <= prev {
			t.Errorf("status line %q: second %d after %d", line, sec, prev)
		}
		prev = sec
	}
	var rep map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("stdout has more than one JSON value")
	}
	for _, k := range []string{"chapter", "duration_s", "rate", "requests", "latency_ms", "events", "nodes", "lesson", "objectives"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	req := rep["requests"].(map[string]any)
	for _, k := range []string{"sent", "ok", "failed", "unfinished", "failed_by_reason"} {
		if _, ok := req[k]; !ok {
			t.Errorf("requests lacks %q", k)
		}
	}
	if req["ok"].(float64)+req["failed"].(float64)+req["unfinished"].(float64) != req["sent"].(float64) {
		t.Errorf("requests do not add up: %v", req)
	}
	if req["failed"].(float64) == 0 {
		t.Errorf("killing one of three servers without a load balancer should fail requests: %v", req)
	}
	lat := rep["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p95", "p99", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_ms lacks %q", k)
		}
	}
	ev := rep["events"].([]any)
	if len(ev) == 0 || ev[0].(map[string]any)["kind"] != "kill" || ev[0].(map[string]any)["node"] != "web-2" {
		t.Errorf("events: %v", ev)
	}
	for _, n := range rep["nodes"].([]any) {
		m := n.(map[string]any)
		for _, k := range []string{"name", "role", "state", "requests"} {
			if _, ok := m[k]; !ok {
				t.Errorf("node lacks %q: %v", k, m)
			}
		}
	}
}

func TestListShowsProgressAndSurvivesACorruptFile(t *testing.T) {
	cfg := t.TempDir()
	code, stdout, _ := runIn(t, cfg, "", "list")
	if code != 0 || !strings.Contains(stdout, "tiers") || !strings.Contains(stdout, "loadbalancer") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if strings.Contains(stdout, "list.") || strings.Contains(stdout, "%!") || !strings.Contains(stdout, "not started") {
		t.Errorf("list shows raw or broken strings:\n%s", stdout)
	}
	if err := os.WriteFile(filepath.Join(cfg, "progress.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIn(t, cfg, "", "list")
	if code != 0 || !strings.Contains(stdout, "tiers") {
		t.Fatalf("a corrupt progress file must not be fatal: exit %d, %s %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "progress.json") {
		t.Errorf("the corrupt file should be named: %q", stderr)
	}
	set, _ := filepath.Glob(filepath.Join(cfg, "progress.json.corrupt-*"))
	if len(set) != 1 {
		t.Errorf("corrupt file should be set aside, found %v", set)
	}
	code, _, _ = runIn(t, cfg, "", "list", "--lang", "ko")
	if code != 0 {
		t.Errorf("list --lang ko: exit %d", code)
	}
}

func TestTUINeedsATerminal(t *testing.T) {
	code, _, stderr := runArgs(t, "")
	if code != 2 || !strings.Contains(stderr, "terminal") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}

func TestRunReplicationFailoverHeadless(t *testing.T) {
	code, stdout, stderr := runArgs(t, "3s kill @primary\n", "run", "replication", "--step", "3", "--duration", "8s", "--json", "--chaos", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Lesson map[string]any `json:"lesson"`
		Events []struct {
			Kind string `json:"kind"`
			Node string `json:"node"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	for _, k := range []string{"mode", "failover_ms", "writes_unavailable_ms", "lost_writes", "lost_write_ids", "stale_reads", "max_lag_ms", "promoted"} {
		if _, ok := rep.Lesson[k]; !ok {
			t.Errorf("lesson lacks %q: %v", k, rep.Lesson)
		}
	}
	if rep.Lesson["mode"] != "async" || rep.Lesson["promoted"] == "" {
		t.Errorf("want an async failover with a promotion: %v", rep.Lesson)
	}
	if ms := rep.Lesson["failover_ms"].(float64); ms <= 0 || ms > 4000 {
		t.Errorf("failover took %v ms; want within interval x misses + 1 s", ms)
	}
	ids := rep.Lesson["lost_write_ids"].([]any)
	if int(rep.Lesson["lost_writes"].(float64)) != len(ids) {
		t.Errorf("lost_writes %v but %d ids", rep.Lesson["lost_writes"], len(ids))
	}
	promoted := false
	for _, e := range rep.Events {
		promoted = promoted || e.Kind == "promote"
	}
	if !promoted {
		t.Errorf("no promote event: %+v", rep.Events)
	}
}
