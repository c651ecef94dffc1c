package datacenters

import (
	"testing"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
)

// fast runs the lab clock twice as fast as real time (the chapter's
// waits are TTLs of 5 to 15 s) at 80 req/s, not the chapter's 200: under
// the race detector a SQLite query costs several times its real price, and
// 400 requests a real second saturate the databases of a 2-core machine.
var fast = chapters.Options{Speed: 2, Rate: 80}

// faster is for the steps that time TTLs and count requests but measure no
// latency: four times real time at 40 req/s.
var faster = chapters.Options{Speed: 4, Rate: 40}

// light is for the step whose claim is latency by region: twice real
// time at 40 req/s, so a busy machine does not swamp the 90 ms the step
// is about (at 80 req/s and a neighbour's load the databases saturated).
var light = chapters.Options{Speed: 2, Rate: 40}

// One data center for the world, then GeoDNS: users in each region reach
// the nearest data center, checked by the address they connected to, and
// the far region's p50 falls by most of the ocean's round trip.
func TestGeoDNSSendsEachRegionToItsNearestDataCenter(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Datacenters(), 1, light)
	one, geo := chaptertest.Fact(t, rep, "p50_ms_eu_one"), chaptertest.Fact(t, rep, "p50_ms_eu_geo")
	t.Logf("eu p50: %.1f ms with one data center, %.1f ms with GeoDNS (-%.0f%%); us %.1f → %.1f ms; ap %.1f → %.1f ms; %.1f%% of eu users' requests reached eu",
		one, geo, chaptertest.Fact(t, rep, "eu_p50_drop_pct"), chaptertest.Fact(t, rep, "p50_ms_us_one"), chaptertest.Fact(t, rep, "p50_ms_us_geo"),
		chaptertest.Fact(t, rep, "p50_ms_ap_one"), chaptertest.Fact(t, rep, "p50_ms_ap_geo"), chaptertest.Fact(t, rep, "eu_users_on_eu_pct"))
	// The ocean is 100 ms round trip, a region 10 ms. Each comparison is
	// between regions measured over the same seconds, so a busy machine
	// (the race detector's price is real time, doubled at speed 2) slows
	// both sides alike: with one data center eu pays the ocean more than us
	// users pay their region; with GeoDNS eu users are as near as us users.
	usOne, usGeo := chaptertest.Fact(t, rep, "p50_ms_us_one"), chaptertest.Fact(t, rep, "p50_ms_us_geo")
	if one-usOne < 70 {
		t.Errorf("with one data center eu users should pay the ocean: eu p50 %.1f ms, us %.1f ms", one, usOne)
	}
	if geo-usGeo > 20 || usGeo-geo > 20 {
		t.Errorf("with GeoDNS eu users should be as near their data center as us users are: eu p50 %.1f ms, us %.1f ms", geo, usGeo)
	}
	for _, k := range []string{"us_users_on_us_pct", "eu_users_on_eu_pct", "ap_users_on_us_pct"} {
		if v := chaptertest.Fact(t, rep, k); v < 99 {
			t.Errorf("with GeoDNS every user should connect to the nearest data center's address: %s %.1f%%", k, v)
		}
	}
}

// A data center dies: DNS marks it down within a few health checks, but
// resolvers keep the old answer until its TTL ends, so failures last about
// detection + TTL — never ending before the TTL when clients do not fall
// back, ending sooner with a shorter TTL (which costs more DNS queries),
// and hardly starting with a client-side fallback.
func TestDataCenterDeathWaitsForTheTTL(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Datacenters(), 2, faster)
	f15, f5 := chaptertest.Fact(t, rep, "dc_failover_s_15s"), chaptertest.Fact(t, rep, "dc_failover_s_5s")
	detect := chaptertest.Fact(t, rep, "dns_detect_s")
	t.Logf("eu died: DNS took it out after %.1f s; failures lasted %.1f s with a 15 s TTL (cached answers had %v s left; %v failed), %.1f s with 5 s (%v s left; %v failed), %v failed with fallback; DNS %.1f q/s at 15 s, %.1f q/s at 5 s",
		detect, f15, rep.Lesson["cached_left_s_15s"], rep.Lesson["failed_during_failover_15s"], f5, rep.Lesson["cached_left_s_5s"], rep.Lesson["failed_during_failover_5s"], rep.Lesson["failed_during_failover_fallback"],
		chaptertest.Fact(t, rep, "dns_qps_15s"), chaptertest.Fact(t, rep, "dns_qps_5s"))
	if detect < 1.5 || detect > 6 {
		t.Errorf("3 failed checks 1 s apart should mark eu down in about 3 s: %.1f s", detect)
	}
	// Failures last at least until the last answer naming eu cached before
	// the kill expires, and at most a TTL after DNS took eu out: a resolver
	// that asked again between the kill and the health check's verdict got
	// eu once more, for a whole TTL.
	for _, c := range []struct {
		ttl string
		sec float64
	}{{"15s", 15}, {"5s", 5}} {
		f, left := chaptertest.Fact(t, rep, "dc_failover_s_"+c.ttl), chaptertest.Fact(t, rep, "cached_left_s_"+c.ttl)
		if f < left-1 || f > detect+c.sec+3 {
			t.Errorf("TTL %s: failures lasted %.1f s; cached answers naming eu had up to %.1f s left at the kill and DNS took %.1f s to notice", c.ttl, f, left, detect)
		}
		if left > c.sec+0.5 {
			t.Errorf("TTL %s: a cached answer cannot outlive its TTL: %.1f s left", c.ttl, left)
		}
	}
	if f15 <= f5 {
		t.Errorf("a shorter TTL should end the failures sooner: %.1f s at 15 s, %.1f s at 5 s", f15, f5)
	}
	if q5, q15 := chaptertest.Fact(t, rep, "dns_qps_5s"), chaptertest.Fact(t, rep, "dns_qps_15s"); q5 < 2*q15 {
		t.Errorf("a TTL a third as long should cost about three times the DNS queries: %.1f vs %.1f q/s", q5, q15)
	}
	if n := chaptertest.Fact(t, rep, "failed_during_failover_fallback"); n > 10 {
		t.Errorf("with a second address and a client retry, a data center's death should fail almost nothing: %v", n)
	}
}

// Data across the ocean: the replica in eu lags, eu users read stale data
// and pay the ocean on writes, semi-sync makes us writes pay it too, and
// us's death promotes eu's replica, losing acknowledged writes under async
// — each one listed and absent on the new primary.
func TestCrossDCReplicationLagsAndAFailoverLosesWrites(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Datacenters(), 3, fast)
	lag := chaptertest.Fact(t, rep, "cross_dc_lag_ms")
	usA, euA := chaptertest.Fact(t, rep, "write_p50_ms_us_async"), chaptertest.Fact(t, rep, "write_p50_ms_eu_async")
	usS := chaptertest.Fact(t, rep, "write_p50_ms_us_semi_sync")
	lost := chaptertest.Fact(t, rep, "lost_writes")
	ids, _ := rep.Lesson["lost_write_ids"].([]string)
	t.Logf("lag %.1f ms; %v stale reads (%.1f per 1k reads); write p50 us %.1f / eu %.1f ms async, us %.1f ms semi-sync; promoted after %.1f s, writes down %.1f s, %v lost: %v",
		lag, rep.Lesson["stale_reads"], chaptertest.Fact(t, rep, "stale_per_1k_reads"), usA, euA, usS,
		chaptertest.Fact(t, rep, "promoted_after_s"), chaptertest.Fact(t, rep, "writes_down_s"), lost, ids)
	if lag < 50 {
		t.Errorf("the replica across a 50 ms link cannot lag less than 50 ms: %.1f", lag)
	}
	if euA-usA < 60 {
		t.Errorf("eu writes cross the ocean to the primary: %.1f vs %.1f ms", euA, usA)
	}
	if usS-usA < 80 {
		t.Errorf("semi-sync makes a us write wait for eu: %.1f vs %.1f ms", usS, usA)
	}
	// whether this failover caught writes in flight is chance at 50 ms
	// (TestAsyncFailoverAcrossTheOceanListsLostWrites makes it all but
	// sure); the ones it lost are listed
	if len(ids) != int(lost) {
		t.Errorf("every lost write should be listed: %v lost, ids %v", lost, ids)
	}
	if p := chaptertest.Fact(t, rep, "promoted_after_s"); p < 1 || p > 6 {
		t.Errorf("the monitor promotes after 3 missed heartbeats 1 s apart (the first may come at once): %.1f s", p)
	}
}

// Weighted answers move traffic as resolvers' answers expire: a drain
// empties eu within about a TTL, not at once; a 90/10 canary sends eu a
// small share.
func TestTrafficShiftFollowsTheTTL(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Datacenters(), 4, faster)
	drain, canary := chaptertest.Fact(t, rep, "dns_drain_s"), chaptertest.Fact(t, rep, "eu_share_pct_canary")
	left := chaptertest.Fact(t, rep, "drain_cached_left_s")
	t.Logf("eu drained in %.1f s after 100/0 (cached answers naming eu had up to %.1f s left); under 90/10 eu took %.1f%%; share now %v", drain, left, canary, rep.Lesson["traffic_share_by_dc"])
	// eu's traffic ends when the last cached answer naming it expires
	if drain < left-1.5 || drain > left+2 || left > 15.5 {
		t.Errorf("a drain should end as the last cached answer naming eu expires (%.1f s left, TTL 15 s): %.1f s", left, drain)
	}
	if canary < 2 || canary > 25 {
		t.Errorf("a 90/10 canary should send eu a small share: %.1f%%", canary)
	}
}
