package chapters

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"scalelab/engine"
)

// These tests start the real components on loopback and check each
// lesson's claim from what the run measured. They run one at a time: each
// is a real-time load on a 2-core machine.

func runStep(t *testing.T, chapter string, step int, dur time.Duration, opt Options, script string) *Report {
	t.Helper()
	ch, err := Find(chapter)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := engine.ParseScript("chaos", script)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Headless(context.Background(), RunConfig{Chapter: ch, Step: step - 1, Duration: dur, Options: opt, Script: lines})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func fact(t *testing.T, rep *Report, key string) float64 {
	t.Helper()
	v, ok := rep.Lesson[key]
	if !ok {
		t.Fatalf("%s/%s: no %s measured; lesson: %v; events: %v", rep.Chapter, rep.Step, key, rep.Lesson, rep.Events)
	}
	return v.(float64)
}

func met(rep *Report, id string) bool {
	for _, o := range rep.Objectives {
		if o.ID == id {
			return o.Met
		}
	}
	return false
}

// failedIn sums failures over load seconds [from, to).
func failedIn(rep *Report, from, to int) (failed, done int64) {
	for _, p := range rep.Series {
		if p.Sec >= from && p.Sec < to {
			failed += p.Failed
			done += p.OK + p.Failed
		}
	}
	return
}

func TestTiersSplitKeepsPagesFastUnderDataLoad(t *testing.T) {
	script := "8s set load.mix data-heavy"
	one := runStep(t, "tiers", 1, 19*time.Second, Options{}, script)
	split := runStep(t, "tiers", 2, 19*time.Second, Options{}, script)
	oneHeavy, splitHeavy := fact(t, one, "page_p99_ms_one_box"), fact(t, split, "page_p99_ms_split")
	t.Logf("page p99 under data-heavy load: one box %.1f ms, split %.1f ms", oneHeavy, splitHeavy)
	if oneHeavy < 2*splitHeavy {
		t.Errorf("one box page p99 %.1f ms should be well above split %.1f ms: data work delays pages on one box", oneHeavy, splitHeavy)
	}
	if !met(one, "data-heavy") || !met(split, "data-heavy-split") {
		t.Errorf("objectives not met: %v / %v", one.Objectives, split.Objectives)
	}
}

func TestTiersKeyValueFeedIsOneReadButWritesFanOut(t *testing.T) {
	rep := runStep(t, "tiers", 3, 16*time.Second, Options{Rate: 150}, "8s set data.store kv")
	sqlFeed, kvFeed := fact(t, rep, "sql_feed_p50_ms"), fact(t, rep, "kv_feed_p50_ms")
	kvRead, kvWrite := fact(t, rep, "kv_read_p50_ms"), fact(t, rep, "kv_write_p50_ms")
	t.Logf("feed p50: sql join %.2f ms, kv list %.2f ms; kv read %.2f ms, kv write %.2f ms", sqlFeed, kvFeed, kvRead, kvWrite)
	if kvFeed >= sqlFeed {
		t.Errorf("a denormalised feed (%.2f ms) should be faster than the join (%.2f ms)", kvFeed, sqlFeed)
	}
	if kvWrite <= kvRead {
		t.Errorf("a kv write fans out to every follower: %.2f ms should exceed a point read %.2f ms", kvWrite, kvRead)
	}
	if !met(rep, "both-stores") {
		t.Errorf("both-stores not met: %v", rep.Lesson)
	}
}

func TestScalingSmallMachineSaturatesLargestDoesNot(t *testing.T) {
	// the small size serves about 93 req/s (modelled); 150 req/s overloads it
	rep := runStep(t, "scaling", 1, 16*time.Second, Options{Rate: 150, Speed: 2}, "8s set app.size 2xlarge")
	fSmall, dSmall := failedIn(rep, 3, 8)
	fBig, dBig := failedIn(rep, 11, 16)
	t.Logf("small: %d/%d failed; 2xlarge: %d/%d failed", fSmall, dSmall, fBig, dBig)
	if fSmall*10 < dSmall {
		t.Errorf("the small machine should turn away over 10%% at 150 req/s: %d of %d", fSmall, dSmall)
	}
	if fBig != 0 || dBig == 0 {
		t.Errorf("the largest machine should serve 150 req/s without failures: %d of %d failed", fBig, dBig)
	}
	if got := fact(t, rep, "cost_ratio_per_size"); got <= 2 {
		t.Errorf("cost per size step %.2f should be more than double (modelled)", got)
	}
}

func TestScalingSingleServerIsASinglePointOfFailure(t *testing.T) {
	rep := runStep(t, "scaling", 2, 24*time.Second, Options{Speed: 2}, "3s kill app-1\n8s restart app-1")
	if got := fact(t, rep, "outage_failed_pct"); got < 99 {
		t.Errorf("with the only server down, %.1f%% failed; want every request", got)
	}
	if !met(rep, "kill") || !met(rep, "recover") {
		t.Errorf("objectives: %v", rep.Objectives)
	}
	up := -1
	for _, e := range rep.Events {
		if e.Kind == engine.EvUp {
			up = int(e.TMs / 1000)
		}
	}
	if up < 0 {
		t.Fatalf("app-1 never came back: %v", rep.Events)
	}
	if f, d := failedIn(rep, up+1, 24); f != 0 || d == 0 {
		t.Errorf("after the restart %d of %d failed; want none", f, d)
	}
}

func TestScalingOutWithoutEntryPointFailsAThird(t *testing.T) {
	rep := runStep(t, "scaling", 3, 14*time.Second, Options{Rate: 150, Speed: 2}, "2s kill web-2")
	got := fact(t, rep, "scale_out_failed_pct")
	if got < 20 || got > 47 {
		t.Errorf("clients that pick 1 of 3 servers at random should fail about a third when one is dead; got %.1f%%", got)
	}
}

func TestLoadBalancerLeastConnBeatsRoundRobinWithASlowServer(t *testing.T) {
	rep := runStep(t, "loadbalancer", 1, 32*time.Second, Options{}, "16s set lb.policy least-conn")
	rr, lc := fact(t, rep, "p99_ms_round_robin"), fact(t, rep, "p99_ms_least_conn")
	t.Logf("p99: round robin %.1f ms, least connections %.1f ms", rr, lc)
	if lc >= rr {
		t.Errorf("least-conn p99 %.1f ms should beat round robin %.1f ms with one small server", lc, rr)
	}
}

func TestLoadBalancerWithoutHealthChecksFailsAThird(t *testing.T) {
	rep := runStep(t, "loadbalancer", 2, 14*time.Second, Options{Rate: 150, Speed: 2}, "2s kill web-2")
	got := fact(t, rep, "failed_pct_unprotected")
	if got < 20 || got > 47 {
		t.Errorf("health checks off, no retries, 1 of 3 dead: want about a third failing, got %.1f%%", got)
	}
}

func TestLoadBalancerHealthChecksAndRetriesHideADeadServer(t *testing.T) {
	rep := runStep(t, "loadbalancer", 2, 34*time.Second, Options{Rate: 150, Speed: 2},
		"0s set lb.health on\n0s set lb.retries 1\n3s kill web-2")
	if got := fact(t, rep, "failed_pct_protected"); got >= 1 {
		t.Errorf("with checks and retries, %.2f%% failed over the 30 s after the kill; want under 1%%", got)
	}
	// ejected within interval x fall + 1 s (defaults: 1 s x 2)
	if got := fact(t, rep, "eject_ms"); got > 3000 {
		t.Errorf("ejected after %.0f ms; want within 3000 ms", got)
	}
	if !met(rep, "kill-protected") {
		t.Errorf("kill-protected not met: %v", rep.Lesson)
	}
}

func TestLoadBalancerAddAndDrainLive(t *testing.T) {
	rep := runStep(t, "loadbalancer", 3, 14*time.Second, Options{Rate: 150, Speed: 2}, "2s add web\n5s drain web-1")
	if got := fact(t, rep, "added_node_rps"); got <= 0 {
		t.Errorf("the added server took no traffic")
	}
	if got := fact(t, rep, "drain_failed"); got != 0 {
		t.Errorf("%v requests failed while draining; want none", got)
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
	ch, _ := Find("loadbalancer")
	lines, err := engine.ParseScript("chaos", "# comment\n2s kill web-1\n3s kill web-9\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Headless(context.Background(), RunConfig{Chapter: ch, Duration: time.Second, Script: lines})
	var se *engine.ScriptError
	if !errors.Is(err, ErrBadTarget) || !errors.As(err, &se) || se.Line != 3 {
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
