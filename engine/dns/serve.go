// The server's answers to queries, its counters, and what the lab shows of it.

package dns

import (
	"context"
	"net"
	"net/netip"
	"scalelab/engine"

	mdns "github.com/miekg/dns"
)

// serveDNS answers one query; every query counts on the node. ctx ends
// when the process does.
func (s *Server) serveDNS(ctx context.Context, w mdns.ResponseWriter, r *mdns.Msg) {
	clock := s.Clock()
	start := clock.Now()
	s.Begin()
	if err := s.Delay(ctx); err != nil { // injected latency
		s.Done(clock.Now()-start, true)
		return
	}
	err := w.WriteMsg(s.reply(addrOf(w.RemoteAddr()), r))
	s.Done(clock.Now()-start, err != nil)
}

// addrOf is the IP address of a UDP peer.
func addrOf(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		ip, _ := netip.AddrFromSlice(u.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// clientSubnet returns a query's EDNS Client Subnet option and the prefix
// it carries (invalid when it carries none).
func clientSubnet(r *mdns.Msg) (*mdns.EDNS0_SUBNET, netip.Prefix) {
	opt := r.IsEdns0()
	if opt == nil {
		return nil, netip.Prefix{}
	}
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			ip, _ := netip.AddrFromSlice(e.Address)
			if e.Family == 0 {
				return e, netip.Prefix{}
			}
			return e, netip.PrefixFrom(ip.Unmap(), int(e.SourceNetmask)).Masked()
		}
	}
	return nil, netip.Prefix{}
}

// reply builds the answer to query r from src: REFUSED outside the zone;
// the host's A records by the policy; NODATA for another type of the host
// or the apex; NXDOMAIN for any other name, with the SOA whose minimum
// says how long to keep the negative answer.
func (s *Server) reply(src netip.Addr, r *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	if len(r.Question) != 1 || r.Opcode != mdns.OpcodeQuery {
		s.queries.Add(1)
		s.byRegion[0].Add(1)
		return m.SetRcode(r, mdns.RcodeFormatError)
	}
	m.SetReply(r)
	ecs, subnet := clientSubnet(r)
	ri, scoped := s.region(src, subnet)
	s.queries.Add(1)
	s.byRegion[ri].Add(1)
	if ecs != nil {
		s.ecs.Add(1)
	}
	if r.IsEdns0() != nil {
		opt := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		opt.SetUDPSize(udpSize)
		if ecs != nil { // echoed, with the scope the answer holds for
			echo := *ecs
			echo.SourceScope = 0
			if scoped {
				echo.SourceScope = uint8(s.cfg.Regions[ri].Subnet.Bits())
			}
			opt.Option = []mdns.EDNS0{&echo}
		}
		m.Extra = append(m.Extra, opt)
	}
	q := r.Question[0]
	name := canonical(q.Name)
	if q.Qclass != mdns.ClassINET || !inZone(s.cfg.Zone, name) {
		m.Rcode = mdns.RcodeRefused
		return m
	}
	m.Authoritative = true
	switch {
	case name == s.cfg.Host && q.Qtype == mdns.TypeA:
		dcs, _ := s.pick(ri)
		ttl := uint32(s.TTL().Seconds())
		for _, i := range dcs {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl},
				A:   s.ips[i],
			})
		}
		s.byDC[dcs[0]].Add(1)
	case name == s.cfg.Zone && q.Qtype == mdns.TypeSOA:
		m.Answer = append(m.Answer, s.soa())
	case name == s.cfg.Host || name == s.cfg.Zone: // the name exists, the type does not
		m.Ns = append(m.Ns, s.soa())
	default:
		m.Rcode = mdns.RcodeNameError
		m.Ns = append(m.Ns, s.soa())
		s.nxdomain.Add(1)
	}
	return m
}

// soa is the zone's SOA record. Its minimum, and its own TTL, are NegTTL:
// a resolver keeps a negative answer for the smaller of the two.
func (s *Server) soa() *mdns.SOA {
	neg := uint32(s.cfg.NegTTL.Seconds())
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: s.cfg.Zone, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: neg},
		Ns:      "ns1." + s.cfg.Zone,
		Mbox:    "hostmaster." + s.cfg.Zone,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  neg,
	}
}

// ServerStats are the server's counters since it started.
type ServerStats struct {
	Queries  int64            // queries answered
	ByRegion map[string]int64 // by the region they were taken to be from
	ByDC     map[string]int64 // by the DC of the answer's first record
	ECS      int64            // queries that carried a client subnet
	NXDomain int64
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	st := ServerStats{Queries: s.queries.Load(), ECS: s.ecs.Load(), NXDomain: s.nxdomain.Load(),
		ByRegion: map[string]int64{}, ByDC: map[string]int64{}}
	for i, r := range s.cfg.Regions {
		st.ByRegion[r.Name] = s.byRegion[i].Load()
	}
	for i, d := range s.cfg.DCs {
		st.ByDC[d.Name] = s.byDC[i].Load()
	}
	return st
}

// Snap is the node's state; its detail is the policy, the TTL and each
// DC's health, and its inspector lines say what each region is answered.
func (s *Server) Snap() engine.NodeSnap {
	n := s.Lifecycle.Snap(RoleDNS, engine.LayerClient)
	n.Public = true
	policy := engine.Textf("dns.policy.geo", "geodns")
	if s.Policy() == PolicyWeighted {
		policy = engine.Textf("dns.policy.weighted", "weighted")
	}
	var health engine.Text
	anyUp := false
	for i, d := range s.cfg.DCs {
		h := engine.Textf("dns.dc.down", "%s down", d.Name)
		if s.dcs[i].healthy.Load() {
			h, anyUp = engine.Textf("dns.dc.up", "%s up", d.Name), true
		}
		if i == 0 {
			health = h
		} else {
			health = engine.Textf("dns.list", "%s, %s", health, h)
		}
	}
	n.Detail = engine.Textf("dns.detail", "%s · ttl %s · %s", policy, s.TTL(), health)
	if !anyUp {
		n.Detail = engine.Textf("dns.detail.fail_open", "%s · none healthy: answering every DC", n.Detail)
	}
	n.Lines = s.lines()
	return n
}

// Describe adds lines to the inspector's, after each region's answer: what
// the resolvers hold, say.
func (s *Server) Describe(lines func() []engine.Line) { s.extra.Store(&lines) }

// lines are the inspector's, what a learner asks first at the top (a
// small screen shows only the first few): each region's answer now, the
// lines a chapter adds, each DC's health, the query counts and the checks.
func (s *Server) lines() []engine.Line {
	c := s.cfg
	var out []engine.Line
	weighted := s.Policy() == PolicyWeighted
	for ri, r := range c.Regions {
		var v engine.Text
		if weighted {
			v = engine.Textf("dns.region.weighted", "by weight: %s", s.weightsText())
		} else {
			dcs, _ := s.pick(ri)
			for j, i := range dcs {
				if j == 0 {
					v = engine.Textf("dns.region.dc", "%s", c.DCs[i].Name)
				} else {
					v = engine.Textf("dns.list", "%s, %s", v, engine.Textf("dns.region.dc", "%s", c.DCs[i].Name))
				}
			}
		}
		out = append(out, engine.Line{Label: engine.Textf("dns.region", "%s answer", r.Name), Value: v})
	}
	if fn := s.extra.Load(); fn != nil {
		out = append(out, (*fn)()...)
	}
	s.hmu.Lock()
	for i, d := range c.DCs {
		st := s.dcs[i]
		v := engine.Textf("dns.dc.healthy", "healthy")
		switch {
		case !st.healthy.Load():
			v = engine.Textf("dns.dc.out", "down: out of answers · %d checks passed in a row", st.passes)
		case st.fails > 0:
			v = engine.Textf("dns.dc.failing", "healthy · %d checks failed in a row", st.fails)
		}
		out = append(out, engine.Line{Label: engine.Textf("dns.dc", "DC %s (%s)", d.Name, d.IP), Value: v})
	}
	s.hmu.Unlock()
	st := s.Stats()
	out = append(out, engine.Line{Label: engine.Textf("dns.queries", "queries"),
		Value: engine.Textf("dns.queries.value", "%d · with client subnet %d · NXDOMAIN %d", st.Queries, st.ECS, st.NXDomain)})
	out = append(out, engine.Line{Label: engine.Textf("dns.checks", "health checks"),
		Value: engine.Textf("dns.checks.value", "every %s, timeout %s; down after %d failures, up after %d passes",
			c.Interval, c.Timeout, c.Fall, c.Rise)})
	return out
}

// weightsText is the healthy DCs' weights, "us 90%, eu 10%".
func (s *Server) weightsText() engine.Text {
	s.wmu.Lock()
	w := append([]int(nil), s.weights...)
	s.wmu.Unlock()
	var t engine.Text
	for i, d := range s.cfg.DCs {
		if w[i] <= 0 || !s.dcs[i].healthy.Load() {
			continue
		}
		item := engine.Textf("dns.weight", "%s %d%%", d.Name, w[i])
		if t.Empty() {
			t = item
		} else {
			t = engine.Textf("dns.list", "%s, %s", t, item)
		}
	}
	if t.Empty() {
		t = engine.Textf("dns.weight.none", "no healthy DC has a weight: nearest healthy")
	}
	return t
}
