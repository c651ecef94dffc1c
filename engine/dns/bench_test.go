package dns

import (
	"context"
	"net"
	"scalelab/engine/internal/enginetest"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// BenchmarkServe: A queries over loopback UDP to the server from parallel
// clients, each on its own socket from a region's resolver address, one
// query in flight each.
func BenchmarkServe(b *testing.B) {
	l := newLab(b, enginetest.System(b, 1), nil)
	addr := l.srv.Addr()
	var id atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		src := srcUS
		if id.Add(1)%2 == 0 {
			src = srcEU
		}
		c, err := (&net.Dialer{LocalAddr: &net.UDPAddr{IP: src.AsSlice()}}).Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		m := new(mdns.Msg)
		m.SetQuestion(host, mdns.TypeA)
		buf := make([]byte, 512)
		for pb.Next() {
			m.Id = mdns.Id()
			q, err := m.Pack()
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := c.Write(q); err != nil {
				b.Error(err)
				return
			}
			n, err := c.Read(buf)
			if err != nil || n < 12 || buf[0] != q[0] || buf[1] != q[1] {
				b.Errorf("reply of %d bytes: %v", n, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "q/s")
	if st := l.srv.Stats(); st.Queries < int64(b.N) {
		b.Errorf("server answered %d of %d queries", st.Queries, b.N)
	}
}

// BenchmarkCachedLookup: a lookup the resolver's cache answers.
func BenchmarkCachedLookup(b *testing.B) {
	l := newLab(b, enginetest.System(b, 1), nil)
	l.srv.SetTTL(time.Hour)
	r := newResolver(b, l, ResolverConfig{Region: "us", Source: srcUS})
	ctx := context.Background()
	if _, err := r.Lookup(ctx, host); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		a, err := r.Lookup(ctx, host)
		if err != nil || !a.Cached || a.Addrs[0] != ipUS {
			b.Fatalf("%+v %v", a, err)
		}
	}
	if st := r.Stats(); st.Upstream != 1 {
		b.Errorf("%d upstream queries", st.Upstream)
	}
}
