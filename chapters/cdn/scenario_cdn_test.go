package cdn

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"testing"
)

// Edges near the users: far regions gain most; the origin serves a sliver.
func TestCDNEdgesCutLatencyAndOffloadTheOrigin(t *testing.T) {
	// at the lab's own speed: at 2x, 15 of its requests once failed in a
	// full suite run (the figures this test checks are latencies)
	rep := chaptertest.PlaySolution(t, CDN(), 1, chapters.Options{})
	for _, reg := range []string{"us", "eu", "ap"} {
		o, c := chaptertest.Fact(t, rep, "p50_ms_"+reg+"_origin"), chaptertest.Fact(t, rep, "p50_ms_"+reg+"_cdn")
		t.Logf("%s p50: %.1f ms to the origin, %.1f ms through its edge", reg, o, c)
		if c >= o {
			t.Errorf("%s: the edge (%.1f ms) should beat the origin (%.1f ms)", reg, c, o)
		}
	}
	if ap := chaptertest.Fact(t, rep, "p50_ms_ap_cdn") / chaptertest.Fact(t, rep, "p50_ms_ap_origin"); ap > 0.2 {
		t.Errorf("Asia through its edge should take a fifth of the origin's p50 or less: %.2f", ap)
	}
	if rep.Requests.Failed != 0 {
		t.Errorf("%d requests failed: %v; events %v", rep.Requests.Failed, rep.Requests.FailedByReason, rep.Events)
	}
}

// A deploy: plain URLs serve the old file until the edge copies expire; a
// purge ends it at once; versioned URLs never serve it.
func TestCDNDeployPurgeAndVersionedURLs(t *testing.T) {
	rep := chaptertest.PlaySolution(t, CDN(), 2, chapters.Options{Speed: 2})
	window := chaptertest.Fact(t, rep, "stale_window_s")
	t.Logf("stale for %.1f s after a deploy with a 10 s TTL; %v stale after a purge, %v with versioned URLs",
		window, chaptertest.Fact(t, rep, "stale_after_purge"), chaptertest.Fact(t, rep, "stale_versioned"))
	if window <= 0 || window > 11 {
		t.Errorf("plain URLs should serve the old file after a deploy until the copies expire (≤ 10 s): %.1f s", window)
	}
	if v := chaptertest.Fact(t, rep, "stale_after_purge"); v != 0 {
		t.Errorf("%v stale responses after the purge", v)
	}
	if v := chaptertest.Fact(t, rep, "stale_versioned"); v != 0 {
		t.Errorf("%v stale responses with versioned URLs", v)
	}
}

// An edge dies: with fallback its users go to the origin, slower, and none
// fails; with stale-if-error the edges ride out the origin's death.
func TestCDNEdgeDeathFallsBackAndStaleIfError(t *testing.T) {
	rep := chaptertest.PlaySolution(t, CDN(), 3, chapters.Options{Speed: 2})
	fb := chaptertest.Fact(t, rep, "p50_ms_fallback")
	t.Logf("edge-eu down: %.1f%% failed, eu p50 through the origin %.1f ms; origin down past the TTL: %.1f%% failed, %v stale copies served",
		chaptertest.Fact(t, rep, "failed_pct_edge_down"), fb, chaptertest.Fact(t, rep, "failed_pct_origin_down"), chaptertest.Fact(t, rep, "stale_if_error_served"))
	if f := chaptertest.Fact(t, rep, "failed_pct_edge_down"); f != 0 {
		t.Errorf("%.2f%% of eu requests failed with fallback on", f)
	}
	if fb < 80 {
		t.Errorf("fallback to the origin should cost eu users the distance: p50 %.1f ms", fb)
	}
	if f := chaptertest.Fact(t, rep, "failed_pct_origin_down"); f != 0 || chaptertest.Fact(t, rep, "stale_if_error_served") == 0 {
		t.Errorf("with stale-if-error the edges should serve every request while the origin is down: %.2f%% failed", f)
	}
	// requests fail only while fallback is off with edge-eu down (16 s
	// to 20 s, and the edge's boot after)
	before, _ := chaptertest.FailedIn(rep, 0, 16)
	after, _ := chaptertest.FailedIn(rep, 23, 49)
	if before+after != 0 {
		t.Errorf("%d requests failed before fallback went off and %d after edge-eu was back", before, after)
	}
	t.Logf("fallback off with edge-eu down: %.1f%% of eu requests failed", chaptertest.Fact(t, rep, "failed_pct_edge_down_no_fallback"))
}
