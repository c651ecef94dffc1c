package replication

import (
	"context"
	"scalelab/engine/repl"
	"scalelab/engine/web"
	"testing"
	"time"

	"scalelab/engine"
)

func benchCluster(b *testing.B, rate float64, mix engine.Mix) (*engine.System, *repl.Cluster) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sys.Close() })
	cfg := repl.DefaultClusterConfig()
	cfg.LinkDelay, cfg.ApplyCost = 0, 0 // no modelled delay
	cl, err := repl.NewCluster(sys, cfg)
	if err != nil {
		b.Fatal(err)
	}
	rt := repl.NewRouter(sys, cl, "web-1")
	web, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "2xlarge", Store: func() engine.Store { return rt }})
	if err != nil {
		b.Fatal(err)
	}
	if err := sys.AddNode(web); err != nil {
		b.Fatal(err)
	}
	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Mix, lc.Entry = rate, mix, web.URL
	l, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		b.Fatal(err)
	}
	sys.SetLoad(l)
	sys.Start()
	return sys, cl
}

// BenchmarkReplicationLag writes 1,000 posts a second for 5 s with no
// modelled delay and reports the largest replica lag seen (sampled every
// 50 ms) and the writes acknowledged. Target: under 50 ms.
func BenchmarkReplicationLag(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sys, cl := benchCluster(b, 1000, engine.Mix{engine.OpWrite: 1})
		var worst time.Duration
		for sys.Clock.Now() < 5*time.Second {
			for _, n := range cl.State().Nodes {
				if n.Role == "replica" && n.Lag > worst && sys.Clock.Now() > time.Second {
					worst = n.Lag
				}
			}
			_ = sys.Clock.Sleep(context.Background(), 50*time.Millisecond)
		}
		t := sys.Load.Totals()
		b.ReportMetric(engine.Ms(worst), "max-lag-ms")
		b.ReportMetric(float64(t.OK)/5, "writes/s")
		sys.Close()
	}
}

// BenchmarkFailoverWritesResume kills the primary under 200 writes a
// second and reports the time from the kill to the first write
// acknowledged by the new primary. Target: interval × misses + 500 ms
// (3,500 ms with the defaults).
func BenchmarkFailoverWritesResume(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sys, cl := benchCluster(b, 200, engine.Mix{engine.OpWrite: 1})
		ctx := context.Background()
		_ = sys.Clock.SleepUntil(ctx, 2*time.Second)
		killed := sys.Clock.Now()
		if err := sys.Apply(engine.Action{Kind: engine.ActKill, Target: "db-1"}); err != nil {
			b.Fatal(err)
		}
		var resumed time.Duration
		for resumed == 0 && sys.Clock.Now() < killed+10*time.Second {
			_ = sys.Clock.Sleep(ctx, 10*time.Millisecond)
			p := cl.Primary()
			if p.Name() == "db-1" {
				continue
			}
			if pos, _ := p.Positions(); pos > 0 {
				// a write landed on the new primary after its promotion
				st := cl.State()
				if len(st.Promotions) > 0 && pos > st.Promotions[0].Divergence {
					resumed = sys.Clock.Now() - killed
				}
			}
		}
		if resumed == 0 {
			b.Fatal("writes did not resume within 10 s")
		}
		b.ReportMetric(float64(resumed.Milliseconds()), "ms-to-writes")
		sys.Close()
	}
}
