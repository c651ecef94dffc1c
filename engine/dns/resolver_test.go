// Tests of the caching resolver against the real server, on the lab clock.

package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"scalelab/engine/internal/enginetest"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// lookup is r.Lookup that must succeed.
func lookup(t *testing.T, r *Resolver, name string) Answer {
	t.Helper()
	a, err := r.Lookup(context.Background(), name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return a
}

// TestResolverCache: a second lookup within the TTL comes from the cache,
// its TTL counted down on the lab clock; after the TTL the server is asked
// again.
func TestResolverCache(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	l.srv.SetTTL(3 * time.Second)
	r := newResolver(t, l, ResolverConfig{Region: "eu", Source: srcEU})

	a := lookup(t, r, host)
	fetched := sys.Clock.Now()
	if a.Cached || a.Negative || len(a.Addrs) != 1 || a.Addrs[0] != ipEU || a.TTL != 3*time.Second {
		t.Fatalf("first lookup %+v", a)
	}
	sleep(t, sys, time.Second)
	a = lookup(t, r, "WWW.scalelab.test") // any case, with or without the final dot
	left := fetched + 3*time.Second - sys.Clock.Now()
	if !a.Cached || a.Addrs[0] != ipEU || a.TTL > 2*time.Second || a.TTL < left-50*time.Millisecond || a.TTL > left+50*time.Millisecond {
		t.Errorf("lookup 1s later %+v, want from the cache with ~%s left", a, left)
	}
	if es := r.Entries(); len(es) != 1 || es[0].Name != host || es[0].Addrs[0] != ipEU || es[0].Left > 2*time.Second || es[0].Negative {
		t.Errorf("entries %+v", es)
	}
	if st := r.Stats(); st != (ResolverStats{Lookups: 2, Hits: 1, Misses: 1, Upstream: 1}) {
		t.Errorf("stats %+v", st)
	}
	if q := l.srv.Stats().Queries; q != 1 {
		t.Errorf("server answered %d queries, want 1", q)
	}

	// expired: asked again, and what the server says now is what it gets
	l.srv.SetSecond(true)
	if err := sys.Clock.SleepUntil(context.Background(), fetched+3*time.Second); err != nil {
		t.Fatal(err)
	}
	if es := r.Entries(); len(es) != 0 {
		t.Errorf("entries after the TTL %+v", es)
	}
	a = lookup(t, r, host)
	if a.Cached || len(a.Addrs) != 2 || a.Addrs[1] != ipUS {
		t.Errorf("lookup after the TTL %+v, want a fresh answer with us second", a)
	}
	if st := r.Stats(); st.Upstream != 2 || st.Hits != 1 {
		t.Errorf("stats %+v", st)
	}

	// Flush forgets everything
	r.Flush()
	if a = lookup(t, r, host); a.Cached || r.Stats().Upstream != 3 {
		t.Errorf("after Flush %+v, %+v", a, r.Stats())
	}
}

// TestResolverNegative: NXDOMAIN is kept for the SOA minimum, as an error.
func TestResolverNegative(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, func(c *ServerConfig) { c.NegTTL = 2 * time.Second })
	r := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS})
	a, err := r.Lookup(context.Background(), "nope.scalelab.test.")
	fetched := sys.Clock.Now()
	if !errors.Is(err, ErrNoSuchName) || !a.Negative || a.Cached || a.TTL != 2*time.Second {
		t.Fatalf("lookup of no name: %+v %v", a, err)
	}
	a, err = r.Lookup(context.Background(), "nope.scalelab.test.")
	if !errors.Is(err, ErrNoSuchName) || !a.Negative || !a.Cached || a.TTL > 2*time.Second {
		t.Errorf("again: %+v %v, want a negative answer from the cache", a, err)
	}
	if es := r.Entries(); len(es) != 1 || !es[0].Negative || len(es[0].Addrs) != 0 {
		t.Errorf("entries %+v", es)
	}
	if err := sys.Clock.SleepUntil(context.Background(), fetched+2*time.Second); err != nil {
		t.Fatal(err)
	}
	if a, err = r.Lookup(context.Background(), "nope.scalelab.test."); !errors.Is(err, ErrNoSuchName) || a.Cached {
		t.Errorf("after the SOA minimum: %+v %v, want asked again", a, err)
	}
	// NODATA is negative too; negative answers are no failures
	if _, err := r.Lookup(context.Background(), "scalelab.test."); !errors.Is(err, ErrNoSuchName) {
		t.Errorf("lookup of the apex's A: %v", err)
	}
	if st := r.Stats(); st.Upstream != 3 || st.Hits != 1 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestNegativeTTL: a negative answer is kept for min(SOA minimum, SOA TTL),
// and not at all without a SOA.
func TestNegativeTTL(t *testing.T) {
	nx := func(ns ...mdns.RR) *mdns.Msg {
		m := new(mdns.Msg)
		m.Rcode = mdns.RcodeNameError
		m.Ns = ns
		return m
	}
	soa := func(ttl, minimum uint32) *mdns.SOA {
		return &mdns.SOA{Hdr: mdns.RR_Header{Name: "scalelab.test.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl}, Minttl: minimum}
	}
	for _, tc := range []struct {
		m    *mdns.Msg
		want time.Duration
	}{
		{nx(soa(5, 60)), 5 * time.Second},
		{nx(soa(60, 10)), 10 * time.Second},
		{nx(), 0},
	} {
		if _, ttl, err := interpret(host, tc.m); !errors.Is(err, ErrNoSuchName) || ttl != tc.want {
			t.Errorf("%v: ttl %s %v, want %s", tc.m.Ns, ttl, err, tc.want)
		}
	}
	m := new(mdns.Msg)
	m.Rcode = mdns.RcodeServerFailure
	if _, _, err := interpret(host, m); err == nil || errors.Is(err, ErrNoSuchName) {
		t.Errorf("SERVFAIL: %v", err)
	}
}

// TestResolverCollapse: concurrent misses of one name send one query.
func TestResolverCollapse(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	l.srv.SetLatency(time.Second)
	r := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS, Timeout: 5 * time.Second})
	sys.Clock.Pause() // the first query waits in the server until the clock runs
	const n = 50
	var wg sync.WaitGroup
	answers := make([]Answer, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = r.Lookup(context.Background(), host) })
	}
	enginetest.Eventually(t, "every lookup waiting", 5*time.Second, func() bool { return r.Stats().Misses == n })
	sys.Clock.Resume()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || answers[i].Cached || len(answers[i].Addrs) != 1 || answers[i].Addrs[0] != ipUS {
			t.Fatalf("lookup %d: %+v %v", i, answers[i], errs[i])
		}
	}
	if st := r.Stats(); st.Upstream != 1 || st.Lookups != n {
		t.Errorf("stats %+v, want one query for %d lookups", st, n)
	}
	if q := l.srv.Stats().Queries; q != 1 {
		t.Errorf("server answered %d queries", q)
	}
}

// TestResolverECS: answers are kept apart by client subnet, and each
// subnet gets its region's DC.
func TestResolverECS(t *testing.T) {
	l := newLab(t, enginetest.System(t, 1), nil)
	r := newResolver(t, l, ResolverConfig{Region: "public", Source: netip.MustParseAddr("127.0.3.1"), ECS: netEU})
	want := map[netip.Prefix]netip.Addr{netUS: ipUS, netEU: ipEU}
	for round := range 2 {
		for _, p := range []netip.Prefix{netUS, netEU} {
			a, err := r.LookupSubnet(context.Background(), host, p)
			if err != nil || a.Addrs[0] != want[p] || a.Cached != (round == 1) {
				t.Errorf("round %d, subnet %v: %+v %v", round, p, a, err)
			}
		}
	}
	if a := lookup(t, r, host); !a.Cached || a.Addrs[0] != ipEU { // its own subnet is eu's
		t.Errorf("Lookup with ECS %v: %+v", netEU, a)
	}
	es := r.Entries()
	if len(es) != 2 || es[0].ECS != netUS || es[1].ECS != netEU {
		t.Errorf("entries %+v", es)
	}
	if st := l.srv.Stats(); st.ECS != 2 || st.Queries != 2 {
		t.Errorf("server stats %+v", st)
	}
}

// TestResolverTimeout: a server that never answers costs a lookup its
// timeout in lab time, no more, and nothing is cached.
func TestResolverTimeout(t *testing.T) {
	sys := enginetest.System(t, 4)
	hole, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	r, err := NewResolver(sys.Clock, ResolverConfig{Region: "us", Source: srcUS, Timeout: time.Second,
		Server: func() string { return hole.LocalAddr().String() }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start, real := sys.Clock.Now(), time.Now()
	_, err = r.Lookup(context.Background(), host)
	took := sys.Clock.Now() - start
	if !errors.Is(err, context.DeadlineExceeded) || took < time.Second || took > 1300*time.Millisecond {
		t.Errorf("lookup: %v after %s of lab time, want a timeout after 1s", err, took)
	}
	t.Logf("%v after %s lab, %s real", err, took, time.Since(real))
	if st := r.Stats(); st.Failures != 1 || len(r.Entries()) != 0 {
		t.Errorf("stats %+v, entries %v", st, r.Entries())
	}
	// a caller's own context ends its wait, not the query
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Lookup(ctx, host); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup: %v", err)
	}
	// closed, a resolver ends its queries and refuses lookups
	r.Close()
	if _, err := r.Lookup(context.Background(), host); !errors.Is(err, ErrClosed) {
		t.Errorf("lookup after Close: %v", err)
	}
}

func TestResolverConfigErrors(t *testing.T) {
	sys := pausedSystem(t)
	srv := func() string { return "127.0.0.1:53" }
	for _, cfg := range []ResolverConfig{
		{Region: "us"},
		{Region: "us", Server: srv, Source: netip.MustParseAddr("192.0.2.1")},
		{Region: "us", Server: srv, Timeout: -1},
	} {
		if _, err := NewResolver(sys.Clock, cfg); err == nil {
			t.Errorf("NewResolver(%+v) made a resolver", cfg)
		}
	}
}

// A primed answer is kept as if fetched age ago: it has TTL − age left,
// and one older than its TTL is not kept.
func TestResolverPrime(t *testing.T) {
	sys := pausedSystem(t)
	l := newLab(t, sys, nil)
	l.srv.SetTTL(10 * time.Second)
	r := newResolver(t, l, ResolverConfig{Region: "eu", Source: srcEU})
	if err := r.Prime(context.Background(), host, 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if es := r.Entries(); len(es) != 1 || es[0].Left != 3*time.Second || es[0].Addrs[0] != ipEU {
		t.Fatalf("primed 7 s old under a 10 s TTL: %+v, want 3 s left", es)
	}
	if a := lookup(t, r, host); !a.Cached || a.TTL != 3*time.Second {
		t.Errorf("a lookup after priming: %+v, want from the cache with 3 s left", a)
	}
	r2 := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS})
	if err := r2.Prime(context.Background(), host, 12*time.Second); err != nil {
		t.Fatal(err)
	}
	if es := r2.Entries(); len(es) != 0 {
		t.Errorf("an answer older than its TTL is not kept: %+v", es)
	}
}
