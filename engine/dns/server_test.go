// Tests of the server over real UDP on loopback.

package dns

import (
	"context"
	"errors"
	"net/netip"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// aOf returns the addresses and TTLs of a reply's A records.
func aOf(r *mdns.Msg) (ips []netip.Addr, ttls []uint32) {
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A)
			ips, ttls = append(ips, ip.Unmap()), append(ttls, a.Hdr.Ttl)
		}
	}
	return ips, ttls
}

func TestServeBySource(t *testing.T) {
	l := newLab(t, pausedSystem(t), nil)
	addr := l.srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("listens on %s", addr)
	}
	for _, tc := range []struct {
		src  netip.Addr
		want netip.Addr
	}{{srcUS, ipUS}, {srcEU, ipEU}} {
		r := query(t, addr, tc.src, host, mdns.TypeA, netip.Prefix{})
		ips, ttls := aOf(r)
		if r.Rcode != mdns.RcodeSuccess || !r.Authoritative || len(ips) != 1 || ips[0] != tc.want || ttls[0] != 30 {
			t.Errorf("from %v: rcode %s, aa %v, answer %v ttl %v; want %v ttl 30", tc.src, mdns.RcodeToString[r.Rcode], r.Authoritative, ips, ttls, tc.want)
		}
	}
	// the TTL changes live; a name's case does not matter
	l.srv.SetTTL(7 * time.Second)
	l.srv.SetSecond(true)
	r := query(t, addr, srcEU, "WWW.ScaleLab.Test.", mdns.TypeA, netip.Prefix{})
	if ips, ttls := aOf(r); len(ips) != 2 || ips[0] != ipEU || ips[1] != ipUS || ttls[0] != 7 || ttls[1] != 7 {
		t.Errorf("with a second record and TTL 7: %v %v", ips, ttls)
	}
	st := l.srv.Stats()
	if st.Queries != 3 || st.ByRegion["us"] != 1 || st.ByRegion["eu"] != 2 || st.ByDC["eu"] != 2 || st.ByDC["us"] != 1 || st.ECS != 0 {
		t.Errorf("stats %+v", st)
	}
	if snap := l.srv.Snap(); snap.Requests != 3 || snap.Role != RoleDNS || snap.Layer != engine.LayerClient || snap.Addr != addr {
		t.Errorf("snap %+v", snap)
	}
}

func TestServeECS(t *testing.T) {
	l := newLab(t, pausedSystem(t), nil)
	ecs := netip.MustParsePrefix("10.2.33.0/24")
	r := query(t, l.srv.Addr(), srcUS, host, mdns.TypeA, ecs)
	if ips, _ := aOf(r); len(ips) != 1 || ips[0] != ipEU {
		t.Errorf("ECS %v from the us resolver: answer %v, want eu's %v", ecs, ips, ipEU)
	}
	opt := r.IsEdns0()
	if opt == nil {
		t.Fatal("no OPT record in the reply")
	}
	var echo *mdns.EDNS0_SUBNET
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			echo = e
		}
	}
	if echo == nil {
		t.Fatalf("no client subnet echoed: %v", opt)
	}
	got, _ := netip.AddrFromSlice(echo.Address)
	if echo.SourceNetmask != 24 || echo.SourceScope != 16 || got.Unmap() != ecs.Addr() {
		t.Errorf("echo %v/%d scope %d, want %v scope 16", echo.Address, echo.SourceNetmask, echo.SourceScope, ecs)
	}
	if st := l.srv.Stats(); st.ECS != 1 || st.ByRegion["eu"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestServeNegative(t *testing.T) {
	l := newLab(t, pausedSystem(t), func(c *ServerConfig) { c.NegTTL = 12 * time.Second })
	soaOf := func(r *mdns.Msg) *mdns.SOA {
		if len(r.Ns) == 1 {
			soa, _ := r.Ns[0].(*mdns.SOA)
			return soa
		}
		return nil
	}
	r := query(t, l.srv.Addr(), srcUS, "nope.scalelab.test.", mdns.TypeA, netip.Prefix{})
	if soa := soaOf(r); r.Rcode != mdns.RcodeNameError || !r.Authoritative || len(r.Answer) != 0 || soa == nil || soa.Minttl != 12 || soa.Hdr.Name != "scalelab.test." {
		t.Errorf("NXDOMAIN: rcode %s, aa %v, answer %v, authority %v", mdns.RcodeToString[r.Rcode], r.Authoritative, r.Answer, r.Ns)
	}
	// NODATA: the host has no AAAA
	r = query(t, l.srv.Addr(), srcUS, host, mdns.TypeAAAA, netip.Prefix{})
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 || soaOf(r) == nil {
		t.Errorf("NODATA: rcode %s, answer %v, authority %v", mdns.RcodeToString[r.Rcode], r.Answer, r.Ns)
	}
	// the apex has its SOA
	r = query(t, l.srv.Addr(), srcUS, "scalelab.test.", mdns.TypeSOA, netip.Prefix{})
	if len(r.Answer) != 1 || r.Rcode != mdns.RcodeSuccess {
		t.Errorf("SOA query: rcode %s, answer %v", mdns.RcodeToString[r.Rcode], r.Answer)
	}
	// outside the zone
	r = query(t, l.srv.Addr(), srcUS, "www.example.com.", mdns.TypeA, netip.Prefix{})
	if r.Rcode != mdns.RcodeRefused || r.Authoritative || len(r.Answer) != 0 {
		t.Errorf("outside the zone: rcode %s, aa %v", mdns.RcodeToString[r.Rcode], r.Authoritative)
	}
	if st := l.srv.Stats(); st.NXDomain != 1 || st.Queries != 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestServeKilled: a killed server answers nothing and the resolver gives
// up within its timeout; restarted, it answers again on the same address.
func TestServeKilled(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	addr := l.srv.Addr()
	r := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS, Timeout: time.Second})
	if err := l.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if snap := l.srv.Snap(); snap.State != engine.StateDown || snap.Addr != "" {
		t.Errorf("killed: %+v", snap)
	}
	start := sys.Clock.Now()
	_, err := r.Lookup(context.Background(), host)
	took := sys.Clock.Now() - start
	if err == nil || errors.Is(err, ErrNoSuchName) || took > 1500*time.Millisecond {
		t.Errorf("lookup of a killed server: %v after %s", err, took)
	}
	t.Logf("killed server: %v after %s", err, took)
	if st := r.Stats(); st.Failures != 1 || len(r.Entries()) != 0 {
		t.Errorf("stats %+v, entries %v", st, r.Entries())
	}

	if err := l.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "dns up again", 10*time.Second, func() bool { return l.srv.State() == engine.StateUp })
	if l.srv.Addr() != addr {
		t.Errorf("restarted on %s, was %s", l.srv.Addr(), addr)
	}
	a, err := r.Lookup(context.Background(), host)
	if err != nil || len(a.Addrs) != 1 || a.Addrs[0] != ipUS {
		t.Errorf("after the restart: %+v %v", a, err)
	}
	if !enginetest.HasEvent(sys, engine.EvKill, "dns") || !enginetest.HasEvent(sys, engine.EvUp, "dns") {
		t.Errorf("events %v", sys.Events.All())
	}
}

// TestServeLatency: injected latency delays every answer on the lab clock.
func TestServeLatency(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	l.srv.SetLatency(400 * time.Millisecond)
	r := newResolver(t, l, ResolverConfig{Region: "eu", Source: srcEU})
	start := sys.Clock.Now()
	a, err := r.Lookup(context.Background(), host)
	if took := sys.Clock.Now() - start; err != nil || took < 400*time.Millisecond || took > time.Second {
		t.Errorf("lookup %+v %v took %s with 400ms latency", a, err, took)
	}
}

// TestServeKillDelayed: a kill does not wait for queries that injected
// latency holds; they die with the process, unanswered.
func TestServeKillDelayed(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, nil)
	l.srv.SetLatency(time.Hour)
	r := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS, Timeout: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := r.Lookup(context.Background(), host)
		done <- err
	}()
	enginetest.Eventually(t, "a query held by the server", 5*time.Second, func() bool { return l.srv.Snap().Requests == 1 })
	start := time.Now()
	if err := l.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("kill took %s with a query in hand", took)
	}
	r.Close() // the lookup never gets an answer; closing ends its query
	if err := <-done; err == nil {
		t.Error("the held query was answered")
	}
	if snap := l.srv.Snap(); snap.Errors != 1 {
		t.Errorf("snap %+v: want the held query counted as failed", snap)
	}
}
