package sharding

import (
	"testing"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
)

// fast runs the lab clock four times as fast as real time: the chapter's
// work is modelled time (a write's 200 ms, a read's 80 ms), not CPU.
var fast = chapters.Options{Speed: 4}

// feeds is fast with 20 requests/s, not 30: under the race detector a
// scatter-gather's calls to every shard cost several times their price,
// and the mover, reading and writing SQLite beside them, would take the
// step's time. The p50s compared count hundreds of feeds all the same.
var feeds = chapters.Options{Speed: 4, Rate: 20}

// One primary takes about 10 writes/s whatever replicas it has, as each
// replica applies every write too; two and four shards take twice and
// four times as many.
func TestWritesGrowWithShardsNotReplicas(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Sharding(), 1, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	one, r2, two, four := f("writes_per_s_1"), f("writes_per_s_1_r2"), f("writes_per_s_2"), f("writes_per_s_4")
	t.Logf("writes/s: one primary %.1f, with 2 replicas %.1f, 2 shards %.1f, 4 shards %.1f", one, r2, two, four)
	// 2 workers × 200 ms a write: 10 writes/s a shard, offered 50/s
	if one < 8.5 || one > 10.5 {
		t.Errorf("one primary took %.1f writes/s, want about 10 (2 workers, 200 ms a write)", one)
	}
	if r2 < 0.85*one || r2 > 1.15*one {
		t.Errorf("replicas changed the write ceiling: %.1f writes/s with 2, %.1f without", r2, one)
	}
	if two < 1.7*one || four < 3.2*one {
		t.Errorf("shards should multiply the write ceiling: %.1f with 2, %.1f with 4, %.1f with 1", two, four, one)
	}
}

// A hashed user id spreads load evenly; a range on sign-up order sends
// every new user to the last shard; the country, a key of few and uneven
// values, makes uneven shards.
func TestShardKeys(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Sharding(), 2, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("busiest shard's share: user-hash %.1f%%, signup-range %.1f%%, country %.1f%%; sign-ups on the busiest under the range %.1f%%; rows spread under country %.2f×",
		f("hot_share_pct_user_hash"), f("hot_share_pct_signup_range"), f("hot_share_pct_country"), f("signup_share_pct_signup_range"), f("rows_spread_country"))
	if f("hot_share_pct_signup_range") < 1.5*f("hot_share_pct_user_hash") {
		t.Errorf("a range on sign-up order should make one shard hot: %.1f%% vs %.1f%% hashed", f("hot_share_pct_signup_range"), f("hot_share_pct_user_hash"))
	}
	if f("lost_rows") != 0 || f("misplaced_rows") != 0 || f("duplicate_rows") != 0 {
		t.Errorf("the key changes' moves lost %.0f rows, misplaced %.0f, duplicated %.0f", f("lost_rows"), f("misplaced_rows"), f("duplicate_rows"))
	}
}

// Adding a fifth shard to four under modulo moves about 4/5 of the rows;
// under a ring, adding a sixth to five moves about 1/6; every row is then
// on exactly one shard, the right one, and every write acknowledged
// during a move is there.
func TestReshardingMovesAndLosesNothing(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Sharding(), 3, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("modulo 4→5: %.1f%% moved (theory %.0f%%) in %.1f s; ring 5→6: %.1f%% (theory %.1f%%) in %.1f s; %.0f writes kept during moves; read p99 %.1f ms before the modulo move, %.1f ms during",
		f("moved_pct_modulo"), f("theory_pct_modulo"), f("reshard_s_modulo"), f("moved_pct_ring"), f("theory_pct_ring"), f("reshard_s_ring"), f("kept_writes"),
		f("before_p99_ms_modulo"), f("move_p99_ms_modulo"))
	if d := f("moved_pct_modulo") - 80; d < -5 || d > 5 {
		t.Errorf("modulo 4→5 moved %.1f%% of rows, want about 80%%", f("moved_pct_modulo"))
	}
	if d := f("moved_pct_ring") - 100.0/6; d < -6 || d > 6 {
		t.Errorf("ring 5→6 moved %.1f%% of rows, want about 16.7%%", f("moved_pct_ring"))
	}
	if f("move_count") != 3 || f("lost_rows") != 0 || f("misplaced_rows") != 0 || f("duplicate_rows") != 0 || f("kept_writes") == 0 {
		t.Errorf("%.0f moves: %.0f rows lost, %.0f misplaced, %.0f on two shards, %.0f writes kept during them; want 3 moves, 0, 0, 0 and some writes",
			f("move_count"), f("lost_rows"), f("misplaced_rows"), f("duplicate_rows"), f("kept_writes"))
	}
}

// A dead shard fails only the requests for the keys it owns.
func TestDeadShardFailsOnlyItsKeys(t *testing.T) {
	ch := Sharding()
	rep := chaptertest.RunStep(t, ch, 3, 8*time.Second, fast, "2s kill shard-2\n7s restart shard-2")
	failed, ok := rep.Lesson["failed_by_shard"].(map[string]any)
	if !ok {
		t.Fatalf("no failed_by_shard in %v", rep.Lesson)
	}
	t.Logf("failed by the shard owning the key: %v", failed)
	if n, _ := failed["shard-2"].(float64); n < 10 {
		t.Errorf("shard-2 was dead 5 s: its keys' requests should fail, got %v", failed)
	}
	for name, v := range failed {
		if name != "shard-2" && v.(float64) > 0 {
			t.Errorf("%s's keys failed %v times while only shard-2 was dead", name, v)
		}
	}
}

// At 60% of the reads, the celebrity's shard is hot and their neighbours
// wait; a dedicated shard gives the neighbours their p99 back; a cache in
// front takes most of the celebrity's reads off the shards.
func TestCelebrityHotShard(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Sharding(), 4, fast)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("at 60%%: hot shard %.1f%%, neighbours p99 %.0f ms, others %.0f ms; dedicated: neighbours %.0f ms, celebrity %.0f ms; cache: %.1f%% hits, hot shard %.1f%%",
		f("hot_share_pct_none"), f("neighbour_p99_ms_none"), f("other_p99_ms_none"), f("neighbour_p99_ms_dedicated"), f("celebrity_p99_ms_dedicated"),
		f("cache_hit_pct"), f("hot_share_pct_cache"))
}

// A scatter-gather feed waits for the slowest of the shards it asks, so
// its latency grows with the shard count; a denormalised timeline is one
// read on the reader's shard, paid for by a fan-out on every post.
func TestFeedAcrossShards(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Sharding(), 5, feeds)
	f := func(k string) float64 { return chaptertest.Fact(t, rep, k) }
	t.Logf("scatter p50/p99: %.1f/%.1f ms at 2 shards, %.1f/%.1f at 8; denormalised %.1f/%.1f at 2; post p50 %.1f ms scatter, %.1f denorm; %.1f timeline rows a post",
		f("scatter_p50_ms_s2"), f("scatter_p99_ms_s2"), f("scatter_p50_ms_s8"), f("scatter_p99_ms_s8"), f("denorm_p50_ms_s2"), f("denorm_p99_ms_s2"),
		f("post_p50_ms_scatter"), f("post_p50_ms_denorm"), f("fanout_rows_per_post"))
	// each user follows 5: a post writes about 5 timeline rows
	if v := f("fanout_rows_per_post"); v < 3 || v > 7 {
		t.Errorf("%.1f timeline rows a post, want about the 5 followers", v)
	}
}
