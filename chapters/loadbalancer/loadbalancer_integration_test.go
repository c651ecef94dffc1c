package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine"
	"strings"
	"testing"
	"time"
)

func TestLoadBalancerLeastConnBeatsRoundRobinWithASlowServer(t *testing.T) {
	rep := chaptertest.PlaySolution(t, LoadBalancer(), 1, chapters.Options{})
	rr, lc := chaptertest.Fact(t, rep, "p99_ms_round_robin"), chaptertest.Fact(t, rep, "p99_ms_least_conn")
	t.Logf("p99: round robin %.1f ms, least connections %.1f ms", rr, lc)
	// measured 0.48 x: least-conn steers around the slow server
	if lc > 0.75*rr {
		t.Errorf("least-conn p99 %.1f ms should be at most 3/4 of round robin's %.1f ms with one small server", lc, rr)
	}
}

// The solution kills web-2 with health checks off and no retries, brings
// it back, then kills it again with checks on and one retry.
func TestLoadBalancerHealthChecksAndRetriesHideADeadServer(t *testing.T) {
	rep := chaptertest.PlaySolution(t, LoadBalancer(), 2, chapters.Options{})
	// round robin hands the dead server exactly one request in three
	if got := chaptertest.Fact(t, rep, "failed_pct_unprotected"); got < 30 || got > 37 {
		t.Errorf("health checks off, no retries, 1 of 3 dead: want a third failing, got %.1f%%", got)
	}
	if got := chaptertest.Fact(t, rep, "failed_pct_protected"); got >= 1 {
		t.Errorf("with checks and retries, %.2f%% failed over the 30 s after the kill; want under 1%%", got)
	}
	// a crashed server refuses connections, and passive detection ejects
	// it after 2 of them: well before the probes' interval x fall (2 s)
	if got := chaptertest.Fact(t, rep, "eject_ms"); got > 500 {
		t.Errorf("the crashed server was ejected after %.0f ms; passive detection should take under 500 ms", got)
	}
}

// Retries matter even with health checks on: the requests cut off by the
// crash and the connections refused before passive detection ejects the
// server (it takes 2) fail without a retry, answered 502 by the load
// balancer, and go to a live server with one.
func TestLoadBalancerRetriesHideTheCrash(t *testing.T) {
	script := "0s set lb.health on\n0s set lb.retries %s\n3s kill web-2\n"
	bad := map[string]int64{}
	for _, retries := range []string{"0", "1"} {
		rep := chaptertest.RunStep(t, LoadBalancer(), 2, 6*time.Second, chapters.Options{}, fmt.Sprintf(script, retries))
		bad[retries] = rep.Requests.FailedByReason[engine.Reason5xx]
		t.Logf("retries %s: %d failed %v", retries, rep.Requests.Failed, rep.Requests.FailedByReason)
	}
	if bad["0"] < 2 {
		t.Errorf("with no retries, %d requests failed with a 5xx; passive detection alone lets at least 2 fail", bad["0"])
	}
	if bad["1"] != 0 {
		t.Errorf("with one retry, %d requests still failed with a 5xx", bad["1"])
	}
}

// A server that hangs refuses nothing, so passive detection never sees it:
// the active probes eject it after about interval x fall (1 s x 2), as the
// lesson says.
func TestLoadBalancerProbesEjectAHungServer(t *testing.T) {
	rep := chaptertest.RunStep(t, LoadBalancer(), 2, 8*time.Second, chapters.Options{},
		"0s set lb.health on\n0s set lb.retries 1\n3s latency web-2 5s\n")
	var ejectMs int64 = -1
	for _, e := range rep.Events {
		if e.Kind == "eject" && e.Node == "web-2" {
			ejectMs = e.TMs - 3000
			if !strings.Contains(e.Detail, "health check") {
				t.Errorf("the hung server was ejected by %q; want the health checks", e.Detail)
			}
			break
		}
	}
	t.Logf("hung web-2 ejected %d ms after it hung", ejectMs)
	// the first failing probe starts within an interval, fails after its
	// 500 ms timeout, and the second an interval later
	if ejectMs < 1000 || ejectMs > 3000 {
		t.Errorf("the hung server was ejected %d ms after it hung; want about interval x fall, 1 to 3 s", ejectMs)
	}
}

func TestLoadBalancerAddAndDrainLive(t *testing.T) {
	rep := chaptertest.PlaySolution(t, LoadBalancer(), 3, chapters.Options{})
	if got := chaptertest.Fact(t, rep, "added_node_rps"); got <= 0 {
		t.Errorf("the added server took no traffic")
	}
	if got := chaptertest.Fact(t, rep, "drain_failed"); got != 0 {
		t.Errorf("%v requests failed while draining; want none", got)
	}
	// the drained server's uploads (3 s each) keep it draining long enough
	// to watch: at 300 req/s, 2 in 100 uploads, about 6 are in flight on a
	// server, so the last ends well after the first second, and the drain
	// is over when it does
	if got := chaptertest.Fact(t, rep, "drain_s"); got < 1 || got > uploadTime.Seconds()+0.5 {
		t.Errorf("web-1 was draining for %.1f s; want between 1 s and the %v an upload takes", got, uploadTime)
	}
	if rep.Requests.Failed != 0 {
		t.Errorf("%d requests failed in all; want none: %v", rep.Requests.Failed, rep.Requests.FailedByReason)
	}
	names := map[string]bool{}
	for _, n := range rep.Nodes {
		names[n.Name] = true
	}
	if names["web-1"] || !names["web-4"] {
		t.Errorf("after add and drain want web-4 in and web-1 out, have %v", names)
	}
}

func TestHeadlessRejectsUnknownTargetBeforeStarting(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ch := LoadBalancer()
	lines, err := engine.ParseScript("chaos", "# comment\n2s kill web-1\n3s kill web-9\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = chapters.Headless(context.Background(), chapters.RunConfig{Chapter: ch, Duration: time.Second, Script: lines})
	var se *engine.ScriptError
	if !errors.Is(err, chapters.ErrBadTarget) || !errors.As(err, &se) || se.Line != 3 {
		t.Fatalf("want a bad target on chaos line 3, got %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "scalelab-*"))
	if len(left) != 0 {
		t.Errorf("temp dirs left behind: %v", left)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatal(err)
	}
}
