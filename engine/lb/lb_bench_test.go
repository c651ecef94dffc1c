package lb

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"scalelab/engine"
	"testing"
	"time"
)

// benchBackend starts a plain HTTP server on loopback that writes "ok".
func benchBackend(b *testing.B) string {
	b.Helper()
	return benchServe(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
}

// benchServe serves h on a loopback port until the benchmark ends.
func benchServe(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func tunedTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// benchGet hammers url from parallel clients and reports requests a second.
func benchGet(b *testing.B, url string) {
	tr := tunedTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkLBProxy measures the load balancer (health checks on) in front of
// one trivial backend.
func BenchmarkLBProxy(b *testing.B) {
	addr := benchBackend(b)
	sys, err := engine.NewSystem(1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sys.Close() })
	lb, err := NewLB(DefaultLBConfig("lb-1"), sys)
	if err != nil {
		b.Fatal(err)
	}
	if err := sys.AddNode(lb); err != nil {
		b.Fatal(err)
	}
	lb.AddTarget(&fakeNode{name: "web-1", addr: addr}, sys.AddLink("lb-1", "web-1"))
	sys.Start() // the lab clock runs, and with it the health checks
	benchGet(b, lb.URL()+"/x")
}

// BenchmarkBareReverseProxy is the baseline: httputil.ReverseProxy with a
// tuned transport in front of the same backend.
func BenchmarkBareReverseProxy(b *testing.B) {
	u, err := url.Parse("http://" + benchBackend(b))
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := tunedTransport()
	b.Cleanup(tr.CloseIdleConnections)
	rp.Transport = tr
	benchGet(b, "http://"+benchServe(b, rp)+"/x")
}
