package shard

import (
	"context"
	"testing"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// A primary with a replica dies: its keys' writes fail until the router's
// monitor has seen three health checks missed, then its replica serves its
// slot; the other shard never notices. Restarted, the old primary copies
// the new one and follows it.
func TestAShardWithAReplicaFailsOver(t *testing.T) {
	sys, r := newRouter(t, 4, smallShape(), moduloLayout(), 2, 0)
	ctx := context.Background()
	primary := r.Shards()[0]
	rep, err := primary.AddReplica(ctx, "shard-1-r1")
	if err != nil {
		t.Fatal(err)
	}
	mine := usersOn(r, 0, smallShape().Users, 20, false)
	other := usersOn(r, 0, smallShape().Users, 20, true)
	for _, u := range mine[:5] {
		if _, err := r.Post(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	enginetest.Eventually(t, "the replica catches up", within, func() bool { return caughtUp(primary, rep) })
	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Post(ctx, mine[5]); err == nil {
		t.Error("a write for the dead primary's key succeeded before any failover")
	}
	if _, err := r.Post(ctx, other[0]); err != nil {
		t.Errorf("a write for the other shard's key failed while shard-1 was dead: %v", err)
	}
	enginetest.Eventually(t, "a failover", within, func() bool { return len(r.Failovers()) == 1 })
	fo := r.Failovers()[0]
	if fo.Dead != "shard-1" || fo.Promoted != "shard-1-r1" || !fo.Checked || fo.Lost != 0 || fo.Behind != 0 {
		t.Errorf("failover %+v: want shard-1-r1 promoted in shard-1's place, caught up, nothing lost", fo)
	}
	// the dead primary missed three checks a lab second apart
	if fo.At < 2*checkEvery {
		t.Errorf("the failover came %s into the run, before three checks could miss", fo.At)
	}
	if got := r.Owner(mine[6]); got != rep {
		t.Fatalf("shard-1's keys go to %s after the failover", got.Name())
	}
	if _, err := r.Post(ctx, mine[6]); err != nil {
		t.Errorf("a write for shard-1's key after the failover: %v", err)
	}
	if !enginetest.HasEvent(sys, EvFailover, "shard-1-r1") {
		t.Error("no failover event")
	}
	if snap := rep.Snap(); snap.Badge != "primary" {
		t.Errorf("the promoted replica's badge is %q", snap.Badge)
	}
	// back, the old primary follows the new one
	if err := primary.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the old primary rejoins as a replica", within, func() bool {
		return primary.State() == engine.StateUp && primary.primary.Load() == rep
	})
	if _, err := r.Post(ctx, mine[7]); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the old primary catches up", within, func() bool { return caughtUp(rep, primary) })
	if a, b := countPosts(t, primary), countPosts(t, rep); a != b {
		t.Errorf("the old primary has %d posts, the new one %d", a, b)
	}
}
