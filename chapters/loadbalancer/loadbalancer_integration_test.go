package loadbalancer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine"
	"testing"
	"time"
)

func TestLoadBalancerLeastConnBeatsRoundRobinWithASlowServer(t *testing.T) {
	rep := chaptertest.PlaySolution(t, LoadBalancer(), 1, chapters.Options{})
	rr, lc := chaptertest.Fact(t, rep, "p99_ms_round_robin"), chaptertest.Fact(t, rep, "p99_ms_least_conn")
	t.Logf("p99: round robin %.1f ms, least connections %.1f ms", rr, lc)
	if lc >= rr {
		t.Errorf("least-conn p99 %.1f ms should beat round robin %.1f ms with one small server", lc, rr)
	}
}

// The solution kills web-2 with health checks off and no retries, brings
// it back, then kills it again with checks on and one retry.
func TestLoadBalancerHealthChecksAndRetriesHideADeadServer(t *testing.T) {
	rep := chaptertest.PlaySolution(t, LoadBalancer(), 2, chapters.Options{})
	if got := chaptertest.Fact(t, rep, "failed_pct_unprotected"); got < 20 || got > 47 {
		t.Errorf("health checks off, no retries, 1 of 3 dead: want about a third failing, got %.1f%%", got)
	}
	if got := chaptertest.Fact(t, rep, "failed_pct_protected"); got >= 1 {
		t.Errorf("with checks and retries, %.2f%% failed over the 30 s after the kill; want under 1%%", got)
	}
	// ejected within interval x fall + 1 s (defaults: 1 s x 2)
	if got := chaptertest.Fact(t, rep, "eject_ms"); got > 3000 {
		t.Errorf("ejected after %.0f ms; want within 3000 ms", got)
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
