package engine

import (
	"context"
	"math"
	"testing"
	"time"
)

// BenchmarkPacerAchievedRate runs Uniform load at 2000 req/s for 10 s of
// lab time (clock at 1x) against a trivial engine.Server and reports the
// achieved send rate over those 10 lab seconds, its error against the
// target in percent (target: within 1%), and the share answered OK.
//
//	go test ./engine -run XXX -bench PacerAchievedRate -benchtime 1x
func BenchmarkPacerAchievedRate(b *testing.B) {
	const (
		target = 2000.0
		secs   = 10
	)
	var rate, errPct, okPct, p99 float64
	for i := 0; i < b.N; i++ {
		r := ctNewLoadRig(b, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = target })
		if err := r.sys.Clock.SetSpeed(1); err != nil {
			b.Fatal(err)
		}
		start := r.start(b)
		_ = r.sys.Clock.SleepUntil(context.Background(), start+secs*time.Second)
		r.load.SetRate(0)
		ctEventually(b, "every request ended", 30*time.Second, func() bool {
			tot := r.load.Totals()
			return tot.OK+tot.Failed == tot.Sent && r.load.inflight.Load() == 0
		})
		r.sys.Clock.Pause()
		snap := r.sys.Snapshot()
		if len(snap.Series) < secs {
			b.Fatalf("only %d complete seconds", len(snap.Series))
		}
		var sent int64
		for _, p := range snap.Series[:secs] { // buckets by intended send time
			sent += p.Sent
		}
		rate = float64(sent) / secs
		errPct = 100 * math.Abs(rate-target) / target
		okPct = 100 * float64(snap.Totals.OK) / float64(snap.Totals.Sent)
		p99 = float64(snap.Latency.P99) / float64(time.Microsecond)
	}
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(errPct, "err%")
	b.ReportMetric(okPct, "ok%")
	b.ReportMetric(p99, "p99-us")
	if errPct > 1 {
		b.Errorf("achieved %.1f req/s, %.2f%% off the 2000 req/s target (want within 1%%)", rate, errPct)
	}
}
