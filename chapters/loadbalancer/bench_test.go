package loadbalancer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/lb"
	"scalelab/engine/sqldb"
	"sync/atomic"
	"testing"
	"time"

	"scalelab/engine"
)

// zeroWorkLB builds the loadbalancer chapter's path with no modelled work:
// lb-1 → web-1..3 → db-1 (SQLite point reads), every node the largest size.
func zeroWorkLB(b *testing.B) (*engine.System, *lb.LB) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sys.Close() })
	db, err := kit.AddDB(sys, "db-1", "2xlarge", engine.WorkModel{}, sqldb.DefaultShape(), 1)
	if err != nil {
		b.Fatal(err)
	}
	lb, err := lb.NewLB(lb.DefaultLBConfig("lb-1"), sys)
	if err != nil {
		b.Fatal(err)
	}
	if err := sys.AddNode(lb); err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("web-%d", i)
		link := sys.AddLink("lb-1", name)
		w, err := kit.AddWeb(sys, name, "2xlarge", engine.WorkModel{}, true, db, nil)
		if err != nil {
			b.Fatal(err)
		}
		lb.AddTarget(w, link)
	}
	return sys, lb
}

// BenchmarkLoadBalancerPathOpen sends 5,000 req/s (open model, Poisson) for
// 5 s of lab time through generator → LB → web → SQLite read and reports the
// achieved rate of successful requests and the failed share.
func BenchmarkLoadBalancerPathOpen(b *testing.B) {
	const rate, dur = 5000, 5 * time.Second
	for i := 0; i < b.N; i++ {
		sys, lb := zeroWorkLB(b)
		cfg := engine.DefaultLoadConfig()
		cfg.Rate, cfg.Entry, cfg.Mix = rate, lb.URL, engine.Mix{engine.OpRead: 1}
		l, err := engine.NewLoad(cfg, sys.Clock)
		if err != nil {
			b.Fatal(err)
		}
		sys.SetLoad(l)
		sys.Start()
		_ = sys.Clock.SleepUntil(context.Background(), dur)
		snap := sys.Snapshot()
		var ok, failed int64
		for _, p := range snap.Series {
			ok += p.OK
			failed += p.Failed
		}
		secs := float64(len(snap.Series))
		b.ReportMetric(float64(ok)/secs, "ok-req/s")
		b.ReportMetric(100*float64(failed)/float64(ok+failed), "failed-%")
		b.ReportMetric(engine.Ms(snap.Latency.P99), "p99-ms")
		sys.Close()
	}
}

// BenchmarkLoadBalancerPathClosed drives the same path as fast as it goes
// with 64 concurrent clients: the path's ceiling on this machine.
func BenchmarkLoadBalancerPathClosed(b *testing.B) {
	sys, lb := zeroWorkLB(b)
	sys.Start()
	tr := &http.Transport{DialContext: (&net.Dialer{}).DialContext, MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := lb.URL() + "/read?id="
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := n.Add(1) % 1000
			resp, err := client.Get(url + fmt.Sprint(k))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
