package dns

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"sync/atomic"
	"testing"
	"time"

	"scalelab/internal/testlock"

	mdns "github.com/miekg/dns"
)

// TestMain runs these tests while no other package's load tests run: they
// time health checks and TTLs, and the benchmarks measure throughput.
func TestMain(m *testing.M) { os.Exit(testlock.Main(m)) }

// The lab's addresses: each DC's entry, each region's resolver and client
// subnet.
var (
	ipUS, ipEU   = netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")
	srcUS, srcEU = netip.MustParseAddr("127.0.2.1"), netip.MustParseAddr("127.0.2.2")
	netUS, netEU = netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")
)

const host = "www.scalelab.test."

// healthSrv is a DC's health check endpoint whose status can be switched.
type healthSrv struct {
	*httptest.Server
	status atomic.Int32
	hang   atomic.Bool // answer nothing until the check gives up
}

func newHealth(t testing.TB) *healthSrv {
	h := &healthSrv{}
	h.status.Store(http.StatusOK)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.hang.Load() {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.Close)
	return h
}

// lab is a DNS server for two DCs (us, eu) and two regions preferring
// their own DC first.
type lab struct {
	sys    *engine.System
	srv    *Server
	health map[string]*healthSrv
}

// newLab starts the server in sys; edit, when set, changes its config.
func newLab(t testing.TB, sys *engine.System, edit func(*ServerConfig)) *lab {
	t.Helper()
	l := &lab{sys: sys, health: map[string]*healthSrv{"us": newHealth(t), "eu": newHealth(t)}}
	url := func(dc string) func() string { return func() string { return l.health[dc].URL + "/health" } }
	cfg := ServerConfig{
		Name: "dns", Zone: "scalelab.test.", Host: host,
		DCs: []DC{{Name: "us", IP: ipUS, Health: url("us")}, {Name: "eu", IP: ipEU, Health: url("eu")}},
		Regions: []Region{
			{Name: "us", Source: srcUS, Subnet: netUS, Prefer: []string{"us", "eu"}},
			{Name: "eu", Source: srcEU, Subnet: netEU, Prefer: []string{"eu", "us"}},
		},
		Seed: 7,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewServer(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(s); err != nil {
		t.Fatal(err)
	}
	l.srv = s
	return l
}

// pausedSystem is a system whose clock stands still: no health check runs.
func pausedSystem(t testing.TB) *engine.System {
	t.Helper()
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys
}

// query sends one query from src to addr and returns the reply.
func query(t testing.TB, addr string, src netip.Addr, name string, qtype uint16, ecs netip.Prefix) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if ecs.IsValid() {
		opt := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		opt.SetUDPSize(1232)
		opt.Option = []mdns.EDNS0{&mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1,
			SourceNetmask: uint8(ecs.Bits()), Address: ecs.Addr().AsSlice()}}
		m.Extra = append(m.Extra, opt)
	}
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: src.AsSlice()}}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s from %v: %v", name, src, err)
	}
	return r
}

// newResolver is a resolver of the lab's server, closed at the end.
func newResolver(t testing.TB, l *lab, cfg ResolverConfig) *Resolver {
	t.Helper()
	if cfg.Server == nil {
		cfg.Server = l.srv.Addr
	}
	r, err := NewResolver(l.sys.Clock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitEvent waits for an event of kind about node and returns it.
func waitEvent(t testing.TB, sys *engine.System, kind engine.EventKind, from int) engine.Event {
	t.Helper()
	var got engine.Event
	enginetest.Eventually(t, string(kind)+" event", 10*time.Second, func() bool {
		evs := sys.Events.All()
		for _, e := range evs[min(from, len(evs)):] {
			if e.Kind == kind && e.Node == "dns" {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// sleep waits d of lab time.
func sleep(t testing.TB, sys *engine.System, d time.Duration) {
	t.Helper()
	if err := sys.Clock.Sleep(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}
