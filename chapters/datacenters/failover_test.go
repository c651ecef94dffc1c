package datacenters

import (
	"testing"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine"
)

// openStep opens a step as the chapter defines it, keeping the topology it
// builds, and returns a wait that observes snapshots until cond holds or
// limit of lab time passes.
func openStep(t *testing.T, step int, opt chapters.Options) (*chapters.Session, *lab, func(what string, limit time.Duration, cond func() bool)) {
	t.Helper()
	defs := datacenterSteps()
	var topo *lab
	build := defs[step-1].Build
	defs[step-1].Build = func(sys *engine.System, opt chapters.Options) (*lab, error) {
		l, err := build(sys, opt)
		topo = l
		return l, err
	}
	ch := Datacenters()
	ch.Steps[step-1] = defs[step-1].Step()
	s, err := chapters.Open(ch, step-1, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	until := chaptertest.Until(t, s)
	return s, topo, until
}

// us dies under async replication: eu's replica is promoted, and every
// write the old primary acknowledged that never crossed the ocean is
// listed by id and truly absent on the new primary, checked by query. The
// test slows the replication link to 1 s one way, so that a failover
// surely catches writes in flight (at the step's 50 ms and these 40
// writes/s a failover loses a few or none; at 200 ms it lost 4 once).
func TestAsyncFailoverAcrossTheOceanListsLostWrites(t *testing.T) {
	s, l, until := openStep(t, 3, fast)
	if err := s.Apply(engine.Action{Kind: engine.ActSet, Key: "repl.delay", Str: "1s"}); err != nil {
		t.Fatal(err)
	}
	until("writes flowing", 20*time.Second, func() bool { return s.Sys.Clock.Now() > 6*time.Second })
	acked := l.cl.State().Acked
	if err := s.Apply(engine.Action{Kind: engine.ActKill, Target: "@dc:us"}); err != nil {
		t.Fatal(err)
	}
	until("promotion", 10*time.Second, func() bool { return len(l.cl.State().Promotions) > 0 })
	p := l.cl.State().Promotions[0]
	t.Logf("%d writes acknowledged before the kill; %s → %s lost %d: %v", acked, p.From, p.To, len(p.Lost), p.Lost)
	if p.From != "db-1" || p.To != "db-2" {
		t.Fatalf("us's primary should fail over to eu's replica: %s → %s", p.From, p.To)
	}
	if len(p.Lost) == 0 {
		t.Fatalf("an async failover across a 1 s link under %d acknowledged writes lost none", acked)
	}
	for _, d := range l.cl.Nodes() {
		if d.Name() != p.To {
			continue
		}
		for _, id := range p.Lost {
			var n int
			if err := d.Data.DB().QueryRow("SELECT count(*) FROM posts WHERE write_id = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("write %s reported lost but present on %s", id, p.To)
			}
		}
	}
	// writes resume on the new primary: eu users' writes succeed again
	until("writes on db-2", 10*time.Second, func() bool { return l.cl.RouterStats().WritesDown > 0 })
}
