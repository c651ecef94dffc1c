package replication

import (
	"sync"
	"testing"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine/repl"

	"scalelab/engine"
)

// openRepl opens a replication step and returns a function that runs the
// lab until cond holds (or fails the test after limit of lab time).
func openRepl(t *testing.T, step int, opt chapters.Options) (*chapters.Session, func(what string, limit time.Duration, cond func() bool)) {
	t.Helper()
	// the step as the chapter defines it, keeping the topology it builds
	def := replicationSteps()[step-1]
	var topo *replicated
	build := def.Build
	def.Build = func(sys *engine.System, opt chapters.Options) (*replicated, error) {
		t, err := build(sys, opt)
		topo = t
		return t, err
	}
	ch := Replication()
	ch.Steps[step-1] = def.Step()
	s, err := chapters.Open(ch, step-1, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	topos.Store(s, topo)
	until := chaptertest.Until(t, s)
	return s, until
}

// topos holds the topology of each session openRepl opened.
var topos sync.Map // *chapters.Session → *replicated

func clusterOf(s *chapters.Session) *repl.Cluster {
	t, _ := topos.Load(s)
	return t.(*replicated).cl
}

func promotions(s *chapters.Session) int { return len(clusterOf(s).State().Promotions) }

// failoverCycle kills the primary, waits for the promotion, restarts the
// old primary and waits until it has rejoined as a replica.
func failoverCycle(t *testing.T, s *chapters.Session, until func(string, time.Duration, func() bool)) repl.Promotion {
	t.Helper()
	cl := clusterOf(s)
	n := promotions(s)
	old := cl.Primary().Name()
	killedAt := s.Sys.Clock.Now()
	if err := s.Apply(engine.Action{Kind: engine.ActKill, Target: "@primary"}); err != nil {
		t.Fatal(err)
	}
	until("promotion", 6*time.Second, func() bool { return promotions(s) > n })
	p := cl.State().Promotions[n]
	// promotion within interval × misses + 1 s of the death
	if d := p.At - killedAt; d > 4*time.Second {
		t.Errorf("promotion took %s after the kill; want at most 4s", d)
	}
	if err := s.Apply(engine.Action{Kind: engine.ActRestart, Target: old}); err != nil {
		t.Fatal(err)
	}
	until("rejoin", 8*time.Second, func() bool {
		for _, d := range cl.State().Nodes {
			if d.Name == old {
				return d.Role == "replica" && d.State == engine.StateUp
			}
		}
		return false
	})
	return p
}

// absentOn checks, by querying the new primary's database, that none of
// the write ids exist there.
func absentOn(t *testing.T, cl *repl.Cluster, node string, ids []string) {
	t.Helper()
	for _, d := range cl.Nodes() {
		if d.Name() != node {
			continue
		}
		for _, id := range ids {
			var n int
			if err := d.Data.DB().QueryRow("SELECT count(*) FROM posts WHERE write_id = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("write %s reported lost but present on %s", id, node)
			}
		}
	}
}

func TestReplicationAsyncFailoverLosesAcknowledgedWrites(t *testing.T) {
	s, until := openRepl(t, 3, chapters.Options{})
	cl := clusterOf(s)
	// Replicas 200 ms away: a failover loses the writes the primary
	// acknowledged but had not shipped, about 90 writes/s times the time
	// since the last shipment. At the step's 50 ms that was 0 to 5 writes
	// (a trial in seven or so lost none, and 2 of 5 lossy trials failed
	// this test once); at 200 ms trials lost 1 to 30.
	if err := s.Apply(engine.Action{Kind: engine.ActSet, Key: "repl.delay", Str: "200ms"}); err != nil {
		t.Fatal(err)
	}
	trials, lossy := 5, 0
	for i := 0; i < trials; i++ {
		start := s.Sys.Clock.Now()
		until("writes flowing", 10*time.Second, func() bool { return s.Sys.Clock.Now() > start+2*time.Second })
		p := failoverCycle(t, s, until)
		t.Logf("trial %d: %s -> %s lost %d acknowledged writes", i, p.From, p.To, len(p.Lost))
		if len(p.Lost) > 0 {
			lossy++
		}
		// every id reported lost was acknowledged to a client and is
		// truly absent on the new primary
		acked := map[string]bool{}
		for _, sa := range cl.State().SetAside {
			if sa.Acked {
				acked[sa.Entry.WriteID] = true
			}
		}
		for _, id := range p.Lost {
			if !acked[id] {
				t.Errorf("trial %d: lost write %s is not among the acknowledged writes set aside on %s", i, id, p.From)
			}
		}
		absentOn(t, cl, p.To, p.Lost)
	}
	t.Logf("async: %d of %d failovers lost acknowledged writes", lossy, trials)
	if lossy*2 <= trials {
		t.Errorf("async failover under steady writes should lose acknowledged writes in most trials: %d of %d", lossy, trials)
	}
}

func TestReplicationSemiSyncFailoverLosesNothing(t *testing.T) {
	s, until := openRepl(t, 4, chapters.Options{})
	cl := clusterOf(s)
	// Semi-sync acknowledges a write once a replica has received it, and the
	// monitor promotes the most up-to-date replica, so no write a replica
	// had received is lost. It protects only until it falls back to async
	// (no replica answered within its timeout): writes acknowledged then can
	// be lost, and are counted apart. Async loses acknowledged writes in
	// most failovers (the test above).
	const trials = 10
	for i := 0; i < trials; i++ {
		start := s.Sys.Clock.Now()
		until("writes flowing", 10*time.Second, func() bool { return s.Sys.Clock.Now() > start+time.Second })
		p := failoverCycle(t, s, until)
		if len(p.LostReplicated) != 0 {
			t.Errorf("trial %d: semi-sync lost %d writes a replica had received: %v", i, len(p.LostReplicated), p.LostReplicated)
		}
	}
	st := cl.State()
	t.Logf("%d of %d acknowledged writes waited for a replica; %d lost over %d failovers, each acknowledged after a fallback to async",
		st.AckedReplicated, st.Acked, len(st.Lost), trials)
	// semi-sync must really wait: most writes are acknowledged after a
	// replica has them, not after a fallback
	if st.Acked == 0 || float64(st.AckedReplicated) < 0.5*float64(st.Acked) {
		t.Errorf("only %d of %d acknowledged writes waited for a replica: semi-sync was not in force", st.AckedReplicated, st.Acked)
	}
}

// The solution kills one replica, then the other, restarts the first and
// adds a fourth.
func TestReplicationReadsSurviveWhileOneReplicaLives(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 2, chapters.Options{})
	if got := chaptertest.Fact(t, rep, "read_failed_pct_no_replica"); got != 0 {
		t.Errorf("no replica up: %.1f%% of reads failed; the primary should take them", got)
	}
	if got := chaptertest.Fact(t, rep, "primary_read_pct_no_replica"); got < 90 {
		t.Errorf("no replica up: the primary served %.1f%% of reads; want nearly all", got)
	}
	t.Logf("a restarted replica caught up in %.0f ms", chaptertest.Fact(t, rep, "catchup_ms"))
}

// The solution kills the primary with replicas 200 ms away, restarts it
// (it rejoins as a replica and sets aside what it alone had) and replays
// what was set aside.
func TestReplicationFailoverSetsAsideAndReplays(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 3, chapters.Options{})
	lost, aside := chaptertest.Fact(t, rep, "lost_writes_first_failover"), chaptertest.Fact(t, rep, "set_aside")
	t.Logf("failover in %.0f ms; %v acknowledged writes lost, %v writes set aside, all replayed",
		chaptertest.Fact(t, rep, "failover_ms"), lost, aside)
	if lost > aside {
		t.Errorf("%v acknowledged writes lost but only %v set aside: a lost write must be among those set aside", lost, aside)
	}
}

// The solution measures writes in both modes, then kills the primary in
// semi-sync.
func TestReplicationSemiSyncCostsWriteLatency(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 4, chapters.Options{})
	semi, async := chaptertest.Fact(t, rep, "write_p50_ms_semi_sync"), chaptertest.Fact(t, rep, "write_p50_ms_async")
	t.Logf("write p50: semi-sync %.1f ms, async %.1f ms; lost in the failover: %v promised, %v acknowledged after a fallback to async",
		semi, async, chaptertest.Fact(t, rep, "lost_writes_semi_sync"), chaptertest.Fact(t, rep, "lost_while_degraded"))
	// the replica is 50 ms away: a semi-sync write waits at least that long
	// for its acknowledgement
	if semi < async+40 {
		t.Errorf("a semi-sync write waits for a replica 50 ms away: p50 %.1f ms should exceed async's %.1f ms by 40 ms or more", semi, async)
	}
}

// The solution kills the primary in semi-sync after-commit, then the new
// primary in after-sync: readers saw writes the first failover lost
// (phantom reads), none the second; neither lost an acknowledged write.
func TestReplicationWaitPointPhantomReads(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 5, chapters.Options{})
	commit, sync := chaptertest.Fact(t, rep, "phantom_reads_after_commit"), chaptertest.Fact(t, rep, "phantom_reads_after_sync")
	t.Logf("phantom reads: after-commit %v, after-sync %v; write p50: after-commit %.1f ms, after-sync %.1f ms; lost acknowledged writes %v",
		commit, sync, rep.Lesson["write_p50_ms_after_commit"], rep.Lesson["write_p50_ms_after_sync"], chaptertest.Fact(t, rep, "lost_writes"))
	if sync != 0 || commit == 0 {
		t.Errorf("phantom reads: after-commit %v (want > 0), after-sync %v (want 0)", commit, sync)
	}
	if lost := chaptertest.Fact(t, rep, "lost_writes"); lost != 0 {
		t.Errorf("semi-sync with a 10 s timeout lost %v acknowledged writes; want none", lost)
	}
}

func TestReplicationStaleReadsGrowWithLagAndVanishWithReadYourWrites(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 1, chapters.Options{})
	low, high := chaptertest.Fact(t, rep, "stale_per_1k_reads_50ms"), chaptertest.Fact(t, rep, "stale_per_1k_reads_200ms")
	t.Logf("stale reads per 1,000: %.1f at 50 ms, %.1f at 200 ms", low, high)
	if high <= low {
		t.Errorf("stale reads should grow with replication lag: %.1f at 200 ms vs %.1f at 50 ms", high, low)
	}
}

func TestReplicationPartitionSplitBrainAndFencing(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Replication(), 6, chapters.Options{})
	if got := chaptertest.Fact(t, rep, "split_brain_writes_min_replicas_0"); got == 0 {
		t.Errorf("without fencing the cut-off primary should keep taking writes after the promotion")
	}
	if got := chaptertest.Fact(t, rep, "split_brain_writes_min_replicas_1"); got != 0 {
		t.Errorf("with min-replicas 1 the cut-off primary took %v writes after the promotion; want none; events %v", got, rep.Events)
	}
	if !chaptertest.Met(rep, "fenced") {
		t.Errorf("fenced not met: %v", rep.Objectives)
	}
}

// the cluster's state must be readable while the load runs (the TUI asks
// every tick)
func TestReplicationStateUnderLoad(t *testing.T) {
	s, until := openRepl(t, 1, chapters.Options{})
	until("lag measured", 10*time.Second, func() bool { return clusterOf(s).State().Acked > 100 })
	st := clusterOf(s).State()
	if st.Primary != "db-1" || len(st.Nodes) != 3 {
		t.Fatalf("state: %+v", st)
	}
}
