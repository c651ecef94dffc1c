package shard

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// countPosts counts a node's posts.
func countPosts(t testing.TB, s *Shard) int64 {
	t.Helper()
	var n int64
	if err := s.Data().DB().QueryRow("SELECT count(*) FROM posts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// caughtUp reports whether a replica holds what its primary holds and has
// nothing left to apply.
func caughtUp(primary, rep *Shard) bool {
	return primary.behind(rep) == 0 && rep.Rows() == primary.Rows()
}

func TestAReplicaAppliesEveryWriteItsPrimaryCommits(t *testing.T) {
	sys, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	primary := r.Shards()[0]
	mine := usersOn(r, 0, smallShape().Users, 30, false)
	if _, err := r.Post(ctx, mine[0]); err != nil {
		t.Fatal(err)
	}
	rep, err := primary.AddReplica(ctx, "shard-1-r1")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := sys.Node("shard-1-r1"); !ok || n != engine.Node(rep) || rep.State() != engine.StateUp {
		t.Fatalf("the replica is not up in the topology")
	}
	// the copy holds everything so far
	if rep.Rows() != primary.Rows() || countRows(t, rep) != countRows(t, primary) {
		t.Fatalf("the copy holds %d rows (%d counted), the primary %d", rep.Rows(), countRows(t, rep), primary.Rows())
	}
	if got := primary.Replicas(); len(got) != 1 || got[0] != rep {
		t.Fatalf("primary's replicas: %v", got)
	}
	if snap := rep.Snap(); snap.Badge != "replica" || snap.Role != RoleReplica {
		t.Errorf("replica snapshot: badge %q, role %q", snap.Badge, snap.Role)
	}
	for _, u := range mine[:10] {
		if _, err := r.Post(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	enginetest.Eventually(t, "the replica catches up", within, func() bool { return caughtUp(primary, rep) })
	if a, b := countPosts(t, rep), countPosts(t, primary); a != b {
		t.Errorf("the replica has %d posts, its primary %d", a, b)
	}
	// a replica that is down keeps its place and catches up when back
	if err := rep.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, u := range mine[10:20] {
		if _, err := r.Post(ctx, u); err != nil {
			t.Fatalf("a post failed with the replica down: %v", err)
		}
	}
	if b := primary.behind(rep); b != 10 {
		t.Errorf("with the replica down, it is %d writes behind, want the 10 posts", b)
	}
	if err := rep.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the replica catches up after its restart", within, func() bool { return caughtUp(primary, rep) })
	if a, b := countPosts(t, rep), countPosts(t, primary); a != b {
		t.Errorf("the replica has %d posts after catching up, its primary %d", a, b)
	}
	if err := primary.RemoveReplicas(); err != nil {
		t.Fatal(err)
	}
	if _, ok := sys.Node("shard-1-r1"); ok {
		t.Error("the removed replica is still in the topology")
	}
	if len(primary.Replicas()) != 0 {
		t.Error("the primary still lists a replica")
	}
	if _, err := r.Post(ctx, mine[20]); err != nil {
		t.Fatalf("a post after removing the replica: %v", err)
	}
}

func TestAMoveReachesTheReplicas(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	primary := r.Shards()[0]
	rep, err := primary.AddReplica(ctx, "shard-1-r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddShard(shardConfig(5)); err != nil {
		t.Fatal(err)
	}
	mv := waitMove(t, r, 0)
	if mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 {
		t.Fatalf("after the move: %d lost, %d misplaced, %d duplicates", mv.Lost, mv.Misplaced, mv.Duplicates)
	}
	// the rows copied in and the old copies deleted apply on the replica too
	enginetest.Eventually(t, "the replica catches up with the move", within, func() bool { return caughtUp(primary, rep) })
	want, got := postsHeld(t, primary), postsHeld(t, rep)
	if len(got) != len(want) {
		t.Fatalf("the replica holds %d posts, its primary %d", len(got), len(want))
	}
	for id, u := range want {
		if got[id] != u {
			t.Fatalf("post %d by %d is not on the replica", id, u)
		}
	}
}

func TestDenormalisedFeedsFanOutEachPost(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	if err := r.SetFeed("sideways"); err == nil {
		t.Error("SetFeed took an unknown mode")
	}
	if err := r.SetFeed(FeedDenorm); err != nil || r.Feed() != FeedDenorm {
		t.Fatalf("SetFeed(denorm): %v, feed %s", err, r.Feed())
	}
	// an author with followers, some on other shards
	var author int
	var followers []int64
	for u := 1; len(followers) < 3; u++ {
		followers = nil
		if err := r.get(ctx, r.Owner(u), "/followers?user="+strconv.Itoa(u), &followers); err != nil {
			t.Fatal(err)
		}
		author = u
	}
	id, err := r.Post(ctx, author)
	if err != nil {
		t.Fatal(err)
	}
	posts, rows := r.FanOut()
	if posts != 1 || rows != int64(len(followers)) {
		t.Errorf("fan-out: %d posts, %d rows; want 1 post, a row per follower (%d)", posts, rows, len(followers))
	}
	shardsHit := map[*Shard]bool{}
	for _, f := range followers {
		shardsHit[r.Owner(int(f))] = true
		feed, err := r.FeedOf(ctx, int(f))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(feed, func(p Post) bool { return p.ID == id && p.User == int64(author) }) {
			t.Errorf("follower %d's timeline %v lacks post %d by %d", f, feed, id, author)
		}
	}
	t.Logf("user %d's post fanned out to %d followers on %d shards", author, len(followers), len(shardsHit))
	// a non-follower's timeline does not get it
	other := 1
	for other == author || slices.Contains(followers, int64(other)) {
		other++
	}
	feed, err := r.FeedOf(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(feed, func(p Post) bool { return p.ID == id }) {
		t.Errorf("user %d, no follower of %d, got their post", other, author)
	}
}
