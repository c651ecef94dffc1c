// The authoritative GeoDNS server: its configuration, the UDP process the
// node's lifecycle runs, the answers and the policy that picks them.

package dns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"scalelab/engine"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// DC is one data center as DNS knows it: the address its records give.
type DC struct {
	Name string     // "us"
	IP   netip.Addr // the DC's entry address, e.g. 127.0.1.1
	// Health gives the URL of the DC's health check (its load balancer's
	// /health), asked at every check; "" skips the check, which counts as
	// failed.
	Health func() string
}

// Region is where a share of the users are.
type Region struct {
	Name   string     // "us"
	Source netip.Addr // the address the region's resolver sends queries from
	// Sources, when valid, holds the addresses of the region's resolvers
	// when it has many (an ISP's, say): 127.0.10.0/24.
	Sources netip.Prefix
	// Subnet is the region's client subnet, as an EDNS Client Subnet option
	// carries it (e.g. 10.1.0.0/16).
	Subnet netip.Prefix
	Prefer []string // DC names, nearest first
}

// ServerConfig describes the DNS server.
type ServerConfig struct {
	Name     string        // the node's name, "dns"
	Zone     string        // "scalelab.test."
	Host     string        // "www.scalelab.test.": the one name with A records
	DCs      []DC          // at least one
	Regions  []Region      // at least one; the first is where unknown queries are taken to be from
	TTL      time.Duration // records' TTL, lab time, whole seconds (default 30s)
	NegTTL   time.Duration // SOA minimum: how long a negative answer may be kept (default 30s)
	Interval time.Duration // health-check interval, lab time (default 1s)
	Fall     int           // failed checks in a row that mark a DC down (default 3)
	Rise     int           // passed checks in a row that mark it up again (default 2)
	Timeout  time.Duration // one check's timeout, lab time (default 500ms)
	Seed     int64         // weighted answers' random source
}

// withDefaults fills the zero fields and puts names in canonical form.
func (c ServerConfig) withDefaults() ServerConfig {
	c.Zone, c.Host = canonical(c.Zone), canonical(c.Host)
	if c.TTL == 0 {
		c.TTL = 30 * time.Second
	}
	if c.NegTTL == 0 {
		c.NegTTL = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Fall == 0 {
		c.Fall = 3
	}
	if c.Rise == 0 {
		c.Rise = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 500 * time.Millisecond
	}
	c.DCs, c.Regions = append([]DC(nil), c.DCs...), append([]Region(nil), c.Regions...)
	for i := range c.Regions {
		c.Regions[i].Source = c.Regions[i].Source.Unmap()
		c.Regions[i].Sources = c.Regions[i].Sources.Masked()
		c.Regions[i].Subnet = c.Regions[i].Subnet.Masked()
	}
	return c
}

// validate checks a configuration with its defaults filled.
func (c ServerConfig) validate() error {
	switch {
	case c.Name == "":
		return errors.New("DNS server has no name")
	case c.Zone == "." || !inZone(c.Zone, c.Host):
		return fmt.Errorf("%s: host %q is not in zone %q", c.Name, c.Host, c.Zone)
	case len(c.DCs) == 0 || len(c.Regions) == 0:
		return fmt.Errorf("%s: needs at least one DC and one region", c.Name)
	case c.TTL < 0 || c.NegTTL < 0 || c.Interval < 0 || c.Timeout < 0 || c.Fall < 0 || c.Rise < 0:
		return fmt.Errorf("%s: TTLs, health interval, timeout, rise and fall must not be negative", c.Name)
	}
	seen := map[string]bool{}
	for _, d := range c.DCs {
		if d.Name == "" || seen[d.Name] {
			return fmt.Errorf("%s: DC names must be set and unique (%q)", c.Name, d.Name)
		}
		if !d.IP.Unmap().Is4() {
			return fmt.Errorf("%s: DC %s: %v is not an IPv4 address", c.Name, d.Name, d.IP)
		}
		seen[d.Name] = true
	}
	for _, r := range c.Regions {
		if len(r.Prefer) == 0 {
			return fmt.Errorf("%s: region %q prefers no DC", c.Name, r.Name)
		}
		for _, p := range r.Prefer {
			if !seen[p] {
				return fmt.Errorf("%s: region %q prefers %q, which is no DC", c.Name, r.Name, p)
			}
		}
	}
	return nil
}

// canonical is a domain name in lower case with its final dot.
func canonical(name string) string { return mdns.Fqdn(strings.ToLower(name)) }

// inZone reports whether the canonical name is zone or below it.
func inZone(zone, name string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

// udpSize is the EDNS buffer size the server and the resolver offer.
const udpSize = 1232

// Server is an authoritative DNS server for one zone on a loopback UDP
// port, a node like any other: a kill stops it answering; a restart brings
// it back on the same address. It answers its one host's A query by the
// region the query comes from and the health of each DC.
type Server struct {
	*engine.Lifecycle
	sys    *engine.System
	cfg    ServerConfig
	prefer [][]int // each region's DCs by index, nearest first
	ips    [][]byte

	ttl    atomic.Int64
	policy atomic.Pointer[string]
	second atomic.Bool
	extra  atomic.Pointer[func() []engine.Line] // the inspector's lines a chapter adds

	wmu     sync.Mutex // weights and rng
	weights []int
	rng     *rand.Rand

	dcs    []*dcState
	hmu    sync.Mutex // the DCs' check streaks
	checks *http.Transport

	queries, ecs, nxdomain atomic.Int64
	byRegion, byDC         []atomic.Int64

	pmu    sync.Mutex // the process
	srv    *mdns.Server
	served chan error         // gets ActivateAndServe's result
	stop   context.CancelFunc // ends the delays of the queries in hand
}

// NewServer starts the DNS server on UDP 127.0.0.1 (a port the OS picks)
// and its health checks on the lab clock, which run until sys closes. The
// caller adds the node to sys.
func NewServer(sys *engine.System, cfg ServerConfig) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sys.Events.Declare(engine.ToneBad, EvDCDown)
	sys.Events.Declare(engine.ToneGood, EvDCUp)
	s := &Server{
		sys: sys, cfg: cfg,
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0xd25)),
		byRegion: make([]atomic.Int64, len(cfg.Regions)),
		byDC:     make([]atomic.Int64, len(cfg.DCs)),
	}
	index := map[string]int{}
	for i, d := range cfg.DCs {
		index[d.Name] = i
		s.ips = append(s.ips, d.IP.Unmap().AsSlice())
		s.dcs = append(s.dcs, &dcState{})
		s.dcs[i].healthy.Store(true) // a DC starts healthy
		s.weights = append(s.weights, 100/len(cfg.DCs))
	}
	for _, r := range cfg.Regions {
		var p []int
		for _, name := range r.Prefer {
			p = append(p, index[name])
		}
		s.prefer = append(s.prefer, p)
	}
	s.SetTTL(cfg.TTL)
	geo := PolicyGeo
	s.policy.Store(&geo)
	s.Lifecycle = engine.NewLifecycle(engine.LifecycleConfig{Name: cfg.Name, Boot: time.Second,
		Crashed: engine.Textf("dns.crashed", "crashed: queries go unanswered")}, (*udpProcess)(s), sys.Clock, sys.Events)
	if err := s.Start(); err != nil {
		return nil, err
	}
	sys.OnClose(s.Close)
	s.startChecks()
	return s, nil
}

// udpProcess is a Server as its lifecycle runs it.
type udpProcess Server

// Listen opens the UDP socket (on addr after a restart) and serves it.
func (p *udpProcess) Listen(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", err
	}
	ctx, stop := context.WithCancel(p.sys.Context())
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, UDPSize: udpSize, NotifyStartedFunc: func() { close(started) },
		Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) { (*Server)(p).serveDNS(ctx, w, r) })}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		stop()
		pc.Close()
		return "", err
	}
	p.pmu.Lock()
	p.srv, p.served, p.stop = srv, served, stop
	p.pmu.Unlock()
	return pc.LocalAddr().String(), nil
}

// Crash closes the socket and waits for the queries being answered.
func (p *udpProcess) Crash() {
	p.pmu.Lock()
	srv, served, stop := p.srv, p.served, p.stop
	p.srv, p.served, p.stop = nil, nil, nil
	p.pmu.Unlock()
	if srv == nil {
		return
	}
	stop() // a query held by injected latency dies with the process
	_ = srv.Shutdown()
	<-served
}

// Role is dns.
func (s *Server) Role() engine.Role { return RoleDNS }

// SetTTL sets the TTL of the answers from now on, in whole seconds of lab
// time (0: resolvers must not keep them).
func (s *Server) SetTTL(d time.Duration) { s.ttl.Store(int64(max(d, 0).Truncate(time.Second))) }

// TTL returns the answers' TTL.
func (s *Server) TTL() time.Duration { return time.Duration(s.ttl.Load()) }

// SetPolicy picks the answer policy: geo or weighted.
func (s *Server) SetPolicy(p string) error {
	if p != PolicyGeo && p != PolicyWeighted {
		return fmt.Errorf("DNS policy %q is not one of %s: %w", p, strings.Join(PolicyNames(), ", "), engine.ErrUnknownKnob)
	}
	s.policy.Store(&p)
	return nil
}

// Policy returns the answer policy in force.
func (s *Server) Policy() string { return *s.policy.Load() }

// SetWeights sets each DC's share of the weighted policy's answers, in
// percent by DC name; a DC missing gets 0, names of no DC are ignored.
// Shares are drawn among the healthy DCs, so they need not add up to 100.
// Until it is called every DC has an even share.
func (s *Server) SetWeights(w map[string]int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for i, d := range s.cfg.DCs {
		s.weights[i] = max(w[d.Name], 0)
	}
}

// SetSecond makes answers carry a second A record, the next healthy DC in
// the region's order, for clients that fall back to it.
func (s *Server) SetSecond(on bool) { s.second.Store(on) }

// Healthy reports whether the health checks last found the DC healthy.
func (s *Server) Healthy(dc string) bool {
	for i, d := range s.cfg.DCs {
		if d.Name == dc {
			return s.dcs[i].healthy.Load()
		}
	}
	return false
}

// Answer is the policy alone, with no I/O: the region a query from src
// (with client subnet ecs, when valid) is taken to be from, and the DCs its
// answer names, in order.
func (s *Server) Answer(src netip.Addr, ecs netip.Prefix) (region string, dcs []string) {
	ri, _ := s.region(src.Unmap(), ecs)
	picked, _ := s.pick(ri)
	for _, i := range picked {
		dcs = append(dcs, s.cfg.DCs[i].Name)
	}
	return s.cfg.Regions[ri].Name, dcs
}

// region is the index of the region a query is from and whether its client
// subnet decided it: the region whose subnet holds the ECS address, else
// the one whose resolver sent it (its Source, or in its Sources), else the
// first.
func (s *Server) region(src netip.Addr, ecs netip.Prefix) (int, bool) {
	if ecs.IsValid() {
		for i, r := range s.cfg.Regions {
			if r.Subnet.IsValid() && r.Subnet.Contains(ecs.Addr()) {
				return i, true
			}
		}
	}
	for i, r := range s.cfg.Regions {
		if (r.Source.IsValid() && r.Source == src) || (r.Sources.IsValid() && r.Sources.Contains(src)) {
			return i, false
		}
	}
	return 0, false
}

// pick returns the DCs an answer to region ri names, and whether it fails
// open: no DC is healthy, so it names them all, nearest first.
func (s *Server) pick(ri int) ([]int, bool) {
	prefer := s.prefer[ri]
	first := -1
	if s.Policy() == PolicyWeighted {
		first = s.draw()
	}
	if first < 0 { // geo, or no healthy DC has a weight: the nearest healthy one
		first = s.nextHealthy(prefer, -1)
	}
	if first < 0 {
		return prefer, true
	}
	if !s.second.Load() {
		return []int{first}, false
	}
	if next := s.nextHealthy(prefer, first); next >= 0 {
		return []int{first, next}, false
	}
	return []int{first}, false
}

// nextHealthy is the first healthy DC of prefer other than skip, or -1.
func (s *Server) nextHealthy(prefer []int, skip int) int {
	for _, i := range prefer {
		if i != skip && s.dcs[i].healthy.Load() {
			return i
		}
	}
	return -1
}

// draw picks a healthy DC with a weight, by weight; -1 when there is none.
func (s *Server) draw() int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var ok [8]bool
	healthy := ok[:0]
	total := 0
	for i, w := range s.weights {
		h := w > 0 && s.dcs[i].healthy.Load()
		healthy = append(healthy, h)
		if h {
			total += w
		}
	}
	if total == 0 {
		return -1
	}
	n := s.rng.IntN(total)
	for i, w := range s.weights {
		if healthy[i] {
			if n < w {
				return i
			}
			n -= w
		}
	}
	return -1
}
