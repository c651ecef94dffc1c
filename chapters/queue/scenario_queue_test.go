package queue

import (
	"testing"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
)

// fast runs the lab clock four times as fast as real time: the chapter's
// work is modelled time (200 ms an order, a service's pace per event), not
// CPU, and its 20 orders/s are 80 real requests a second.
var fast = chapters.Options{Speed: 4}

// spiky is fast with 16 orders/s, not 20: under the race detector the
// workers' every poll and ACK costs several times its price, and 2 workers
// drain a spike's backlog so much slower that the step's 100 s do not see
// the end of it. The spike still overwhelms the inline path (80/s against
// about 40/s) and leaves a backlog the queue drains at the spare rate.
var spiky = chapters.Options{Speed: 4, Rate: 16}

// A 5× spike: inline, orders wait on the web server's workers, slow and
// fail; queued, they are answered at once and the queue takes the spike,
// draining after it at the workers' spare rate, faster with more workers.
func TestQueueAbsorbsASpike(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Queue(), 1, spiky)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("inline: %.1f%% failed, p50 %.0f ms (%.0f ms before); queued: %.1f%% failed, p50 %.1f ms; max depth %.0f; drain %.1f s with 2 workers, %.1f s with 4",
		f("spike_failed_pct_inline"), f("spike_p50_ms_inline"), f("before_p50_ms_inline"), f("spike_failed_pct_queued"), f("spike_p50_ms_queued"),
		f("max_depth_w2"), f("drain_s_w2"), f("drain_s_w4"))
	if f("max_depth_w2") < 200 {
		t.Errorf("queued, the spike should leave a backlog: max depth %.0f with 2 workers", f("max_depth_w2"))
	}
	if f("spike_failed_pct_queued") != 0 {
		t.Errorf("queued, no order should fail under the spike: %.1f%% failed", f("spike_failed_pct_queued"))
	}
	if f("spike_p50_ms_inline") < 5*f("spike_p50_ms_queued") && f("spike_failed_pct_inline") < 10 {
		t.Errorf("inline, orders should slow or fail: p50 %.1f ms vs %.1f ms queued, %.1f%% failed", f("spike_p50_ms_inline"), f("spike_p50_ms_queued"), f("spike_failed_pct_inline"))
	}
	// 2 workers handle some 36 orders/s: a 10 s spike of 80/s leaves
	// about 440 waiting, drained at the spare 20/s; 4 workers leave about
	// 80, drained at 56/s
	if d2, d4 := f("drain_s_w2"), f("drain_s_w4"); d2 < 10 || d4 >= d2/3 {
		t.Errorf("drain: %.1f s with 2 workers (want 10 s or more), %.1f s with 4 (want under a third of it)", d2, d4)
	}
	// the report is read while orders still arrive and workers still ACK:
	// a few may be between the counts
	if d := f("enqueued") - f("acked") - f("depth"); f("lost") != 0 || d < -8 || d > 8 {
		t.Errorf("lost %.0f; %.0f enqueued, %.0f acked, %.0f in the queue at the end: want 0 lost and every order acked or still queued", f("lost"), f("enqueued"), f("acked"), f("depth"))
	}
}

// Workers die with messages in hand: every one comes back after the
// visibility timeout, nothing is lost; effects done before a kill are done
// twice without idempotent handling and once with it; a poison message
// lands in the dead-letter stream after three tries.
func TestKilledWorkersLoseNothing(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Queue(), 2, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("%v", rep.Lesson)
	// idle time counts from a message's delivery, which came before the
	// kill by at most a handling (200 ms) and a poll; the reaper looks
	// once a lab second
	if d := f("redelivery_after_s"); d < 4.7 || d > 6.5 {
		t.Errorf("the first redelivery came %.2f s after the kill, want the 5 s visibility timeout (4.7 to 6.5 s)", d)
	}
	if f("lost") != 0 || f("worker_kills") != 8 {
		t.Errorf("lost %.0f after %.0f kills, want 0 after 8", f("lost"), f("worker_kills"))
	}
	if f("dead_lettered") != 1 {
		t.Errorf("dead-lettered %.0f, want the poison message only", f("dead_lettered"))
	}
}

// One order event feeds five services; analytics dies and its lag grows
// while the others' do not; it catches up from its position with nothing
// missed; recommendations joins late and replays history into the same
// state payments holds, and after a retention, replays only what was kept.
func TestEventLogFeedsServicesAtTheirOwnPace(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Queue(), 3, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("analytics down %.0f s: lag up to %.0f, the others' up to %.0f; caught up in %.1f s; recommendations replayed %.0f events, compared over %.0f; after retention 300, %.0f replayed, %.0f missing",
		f("analytics_down_s"), f("analytics_lag_max"), f("others_lag_max"), f("catch_up_s"), f("replayed_on_join"), f("replay_compared"), f("replayed_after_reset"), f("replay_missed"))
	lag, ok := rep.Lesson["lag_by_group"].(map[string]any)
	if !ok || len(lag) != 6 {
		t.Fatalf("lag_by_group %v, want six groups", rep.Lesson["lag_by_group"])
	}
	// analytics was down about 10 s at 20 events/s
	if f("analytics_lag_max") < 150 || f("others_lag_max") > 20 {
		t.Errorf("failure isolation: analytics' lag reached %.0f (want 150+), the others' %.0f (want 20 or less)", f("analytics_lag_max"), f("others_lag_max"))
	}
	// every group, checked against the log at the end: nothing skipped,
	// nothing applied twice
	if f("analytics_gaps") != 0 || f("analytics_dups") != 0 || f("skipped_events") != 0 || f("applied_twice") != 0 {
		t.Errorf("analytics skipped %.0f and doubled %.0f on catching up; all groups at the end skipped %.0f and doubled %.0f; want 0",
			f("analytics_gaps"), f("analytics_dups"), f("skipped_events"), f("applied_twice"))
	}
	// recommendations joined at 22 s: some 440 events of history
	if f("replayed_on_join") < 300 || f("replay_matches") != 1 || f("replay_compared") < f("replayed_on_join") {
		t.Errorf("late join: replayed %.0f events (want 300+), state matching payments' %.0f over %.0f events", f("replayed_on_join"), f("replay_matches"), f("replay_compared"))
	}
	// a reset under a 300-event retention replays only what was kept
	if r, k := f("replayed_after_reset"), f("kept_at_reset"); r < 290 || r > k+5 || f("replay_missed") == 0 || f("reset_matches") != 1 {
		t.Errorf("after the reset: replayed %.0f of %.0f kept, %.0f missing, matching %.0f; want the ~300 kept, some missing, a match", r, k, f("replay_missed"), f("reset_matches"))
	}
}

// Four consumers on one stream apply an order's events out of order; with
// the log partitioned by order, one consumer per partition, none are.
func TestPartitionsKeepOrder(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Queue(), 4, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("out of order: %.0f of %.0f events (%.1f%%) on one stream, %.0f of %.0f on 4 partitions",
		f("out_of_order_p1"), f("events_p1"), f("out_of_order_pct_p1"), f("out_of_order_p4"), f("events_p4"))
	if f("out_of_order_p1") == 0 || f("out_of_order_p4") != 0 || f("events_p4") < 300 {
		t.Errorf("out of order: %.0f on one stream (want some), %.0f of %.0f on partitions (want 0 of 300+)", f("out_of_order_p1"), f("out_of_order_p4"), f("events_p4"))
	}
	if f("skipped_events") != 0 || f("applied_twice") != 0 {
		t.Errorf("shipping skipped %.0f and doubled %.0f events; want 0", f("skipped_events"), f("applied_twice"))
	}
}
