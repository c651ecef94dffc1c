package repl

import (
	"context"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/web"
)

// phantomRig is a semi-sync cluster with replicas 200 ms away, a fast
// monitor, and a web server whose reads all go to the primary (as when
// replicas only stand by for failover), over a few keys so that most
// writes are read soon after they commit.
func phantomRig(t *testing.T, wait string) (*engine.System, *Cluster) {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	cfg := DefaultClusterConfig()
	cfg.Mode, cfg.WaitPoint = ModeSemiSync, wait
	cfg.LinkDelay = 200 * time.Millisecond
	cfg.SemiSyncTimeout = 10 * time.Second             // MySQL's default: no fallback here
	cfg.Interval, cfg.Misses = 500*time.Millisecond, 2 // a promotion about 1 s after the kill
	cl, err := NewCluster(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := NewRouter(sys, cl, "web-1")
	rt.SetLocal("none") // no replica is local: every read goes to the primary
	w, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "xlarge", Store: func() engine.Store { return rt }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(w); err != nil {
		t.Fatal(err)
	}
	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Mix, lc.Keys, lc.Entry = 200, engine.Mix{engine.OpWrite: 50, engine.OpRead: 50}, 20, w.URL
	l, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		t.Fatal(err)
	}
	sys.SetLoad(l)
	sys.Start()
	return sys, cl
}

// visibleAhead polls what a reader of the primary's tables sees against
// what the replicas have received, until stop: it returns how many polls
// saw a write no replica had yet, out of how many.
func visibleAhead(ctx context.Context, sys *engine.System, cl *Cluster) (ahead, polls int) {
	p := cl.Primary()
	for ctx.Err() == nil {
		// the newest write a reader sees: its post is in the table
		var visible int64
		if err := p.Data.DB().QueryRowContext(ctx, "SELECT coalesce(max(pos), 0) FROM replog WHERE write_id IN (SELECT write_id FROM posts WHERE write_id IS NOT NULL)").Scan(&visible); err != nil {
			continue
		}
		// read after the reader: replicas' logs only grow here
		var received int64
		for _, d := range cl.Replicas() {
			if pos, _ := d.Positions(); pos > received {
				received = pos
			}
		}
		polls++
		if visible > received {
			ahead++
		}
		_ = sys.Clock.Sleep(ctx, 10*time.Millisecond)
	}
	return ahead, polls
}

// Semi-sync after-sync (MySQL's default): no reader of the primary sees a
// write before a replica has it, so a failover loses no write anyone read.
// After-commit: readers see writes the replicas do not have yet, and a
// failover loses some of them (phantom reads). Both measured.
func TestWaitPointPhantomReads(t *testing.T) {
	for _, wait := range []string{WaitAfterSync, WaitAfterCommit} {
		t.Run(wait, func(t *testing.T) {
			sys, cl := phantomRig(t, wait)
			ctx, stop := context.WithCancel(context.Background())
			type seen struct{ ahead, polls int }
			done := make(chan seen)
			go func() { a, p := visibleAhead(ctx, sys, cl); done <- seen{a, p} }()
			labUntil(t, sys, "writes and reads", 5*time.Second, func() bool { return sys.Clock.Now() >= 1200*time.Millisecond })
			stop()
			v := <-done
			_, q := sys.Load.OpRecent(engine.OpWrite)
			old := cl.Primary()
			if n := len(cl.State().Promotions); n > 0 {
				t.Fatalf("a failover before the kill (the monitor missed heartbeats of a live primary); events %v", sys.Events.All())
			}
			// slow replicas: their next fetch takes 1 s each way, so the kill
			// finds the writes of the last 0.4 s or more unshipped, whatever
			// the phase of their fetches
			if err := sys.Apply(engine.Action{Kind: engine.ActSet, Key: "repl.delay", Str: "1s"}); err != nil {
				t.Fatal(err)
			}
			slowAt := sys.Clock.Now()
			labUntil(t, sys, "replicas slowed", 2*time.Second, func() bool { return sys.Clock.Now() >= slowAt+600*time.Millisecond })
			if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: old.Name()}); err != nil {
				t.Fatal(err)
			}
			labUntil(t, sys, "promotion", 3*time.Second, func() bool { return len(cl.State().Promotions) > 0 })
			p := cl.State().Promotions[0]
			logged, _ := old.Positions()
			reads := cl.RouterStats().PrimaryReads
			t.Logf("%s: write p50 %.0f ms; %d of %d polls saw a write no replica had; failover: %d writes past pos %d on %s, %d lost acknowledged, %d phantom reads (%d acknowledged); %d reads on the primary",
				wait, engine.Ms(q.P50), v.ahead, v.polls, logged-p.Divergence, p.Divergence, old.Name(), len(p.Lost), len(p.Phantom), p.PhantomAcked, reads)
			for _, e := range sys.Events.All() {
				if e.Kind == EvSemiSync {
					t.Fatalf("semi-sync fell back to async; the test needs it in force: %v", e)
				}
			}
			if v.polls < 20 || reads < 100 {
				t.Fatalf("too little measured: %d polls, %d reads on the primary", v.polls, reads)
			}
			if len(p.LostReplicated) != 0 || p.PhantomAcked != 0 {
				t.Errorf("semi-sync lost %d writes a replica had; %d phantom reads were acknowledged", len(p.LostReplicated), p.PhantomAcked)
			}
			switch wait {
			case WaitAfterSync:
				if v.ahead != 0 {
					t.Errorf("after-sync: %d of %d polls saw a write on the primary before any replica had it", v.ahead, v.polls)
				}
				if len(p.Phantom) != 0 {
					t.Errorf("after-sync: %d phantom reads %v; want none", len(p.Phantom), p.Phantom)
				}
				// the window was there: the old primary had logged writes the
				// new one never received, and nobody read them
				if logged < p.Divergence+10 {
					t.Errorf("after-sync: the old primary logged nothing past the new one's position %d; the test measured no window", p.Divergence)
				}
			case WaitAfterCommit:
				if v.ahead == 0 {
					t.Errorf("after-commit: no poll saw a write before a replica had it (%d polls)", v.polls)
				}
				if len(p.Phantom) == 0 {
					t.Errorf("after-commit: no phantom reads after the failover (%d writes past pos %d)", logged-p.Divergence, p.Divergence)
				}
				absent := absentOn(context.Background(), cl.Primary(), p.Phantom)
				if len(absent) != len(p.Phantom) {
					t.Errorf("phantom reads %v: only %d absent on the new primary", p.Phantom, len(absent))
				}
			}
		})
	}
}
