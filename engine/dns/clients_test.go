package dns

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// dcEntry is a data center's entry: an HTTP server on the DC's own address
// that says which address the request reached.
func dcEntry(t *testing.T, ip netip.Addr, port int) *http.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// Users resolve the name through their region's resolver and connect to
// the address they got: the data center a request reached is the one its
// address belongs to. When that data center is gone a request fails, and
// is retried at the answer's second address only with fallback on.
func TestClientsConnectToTheAddressTheyResolved(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	l.srv.SetTTL(time.Second)
	// one port free on both addresses
	probe, err := net.Listen("tcp", net.JoinHostPort(ipUS.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	dcEntry(t, ipUS, port)
	euEntry := dcEntry(t, ipEU, port)
	// each region 10 ms from its own data center, 100 ms from the other
	place := func(name, far string, src netip.Addr) Place {
		return Place{Name: name, Share: 1, Resolvers: []*Resolver{newResolver(t, l, ResolverConfig{Region: name, Source: src})},
			RTT: map[string]time.Duration{name: 10 * time.Millisecond, far: 100 * time.Millisecond}}
	}
	dcOf := map[netip.Addr]string{ipUS: "us", ipEU: "eu"}
	c := NewClients(sys.Clock, ClientsConfig{Host: host, Port: func() int { return port }, DCOf: func(a netip.Addr) string { return dcOf[a] },
		Places: []Place{place("us", "eu", srcUS), place("eu", "us", srcEU)}})
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	userIn := func(region string) int {
		for u := 0; ; u++ {
			if c.PlaceOf(u).Name == region {
				return u
			}
		}
	}
	fetch := func(user int) (string, string, time.Duration) {
		start := sys.Clock.Now()
		reason, tag := c.Fetch(context.Background(), hc, engine.OpPage, 1, user)
		d := sys.Clock.Now() - start
		c.Observe(engine.OpPage, 1, user, d, reason, tag)
		return reason, tag, d
	}
	for _, want := range []struct{ region, tag string }{{"us", "us|us"}, {"eu", "eu|eu"}} {
		reason, tag, d := fetch(userIn(want.region))
		if reason != "" || tag != want.tag || d < 10*time.Millisecond || d > 80*time.Millisecond {
			t.Errorf("a %s user: %q %q in %s, want ok, %s, 10 ms away", want.region, reason, tag, d, want.tag)
		}
	}
	if ok, _, _ := c.Latency.Totals("eu|eu"); ok != 1 {
		t.Errorf("eu|eu recorded %d", ok)
	}

	// eu's entry dies: eu users' requests fail there; with a second
	// record in the answer they retry at us only once fallback is on
	eu := userIn("eu")
	euEntry.Close()
	if reason, tag, _ := fetch(eu); reason != engine.ReasonRefused || tag != "eu|eu" {
		t.Errorf("eu's entry closed: %q %q, want refused at eu", reason, tag)
	}
	l.srv.SetSecond(true)
	sleep(t, sys, 1100*time.Millisecond) // the one-record answer cached expires
	if reason, tag, _ := fetch(eu); reason != engine.ReasonRefused || tag != "eu|eu" {
		t.Errorf("two records, fallback off: %q %q, want refused at eu", reason, tag)
	}
	c.SetFallback(true)
	reason, tag, d := fetch(eu)
	if reason != "" || tag != "eu|us" || d < 110*time.Millisecond || c.Fallbacks() != 1 {
		t.Errorf("fallback on: %q %q in %s, %d fallbacks; want ok at us, paying both trips", reason, tag, d, c.Fallbacks())
	}
	if n, last := c.FailedSince(0); n != 2 || last < 0 {
		t.Errorf("failed since the start: %d (last sent %s), want 2", n, last)
	}
	if got := c.Seconds(0, 1000)["eu|eu"]; got != [2]int64{1, 2} {
		t.Errorf("eu|eu by second: %v, want 1 ok, 2 failed", got)
	}
}
