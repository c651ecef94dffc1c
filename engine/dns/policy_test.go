// Tests of the answer policy alone, through Answer: no I/O, and a paused
// clock so no health check runs; health is set by hand.

package dns

import (
	"errors"
	"net/netip"
	"scalelab/engine"
	"slices"
	"strings"
	"testing"
)

func answer(t *testing.T, s *Server, src netip.Addr, ecs netip.Prefix, wantRegion string, want ...string) {
	t.Helper()
	region, dcs := s.Answer(src, ecs)
	if region != wantRegion || !slices.Equal(dcs, want) {
		t.Errorf("Answer(%v, %v) = %s %v, want %s %v", src, ecs, region, dcs, wantRegion, want)
	}
}

func TestPolicyBySource(t *testing.T) {
	s := newLab(t, pausedSystem(t), nil).srv
	answer(t, s, srcUS, netip.Prefix{}, "us", "us")
	answer(t, s, srcEU, netip.Prefix{}, "eu", "eu")
	// an IPv4-mapped source is the same address
	answer(t, s, netip.AddrFrom16(srcEU.As16()), netip.Prefix{}, "eu", "eu")
	// a source of no region: the first region
	answer(t, s, netip.MustParseAddr("127.0.9.9"), netip.Prefix{}, "us", "us")
}

// A region with many resolvers (an ISP's) is known by the block their
// addresses are in.
func TestPolicyBySourceBlock(t *testing.T) {
	s := newLab(t, pausedSystem(t), func(c *ServerConfig) {
		c.Regions[1].Source = netip.Addr{}
		c.Regions[1].Sources = netip.MustParsePrefix("127.0.11.0/24")
	}).srv
	answer(t, s, netip.MustParseAddr("127.0.11.7"), netip.Prefix{}, "eu", "eu")
	answer(t, s, netip.MustParseAddr("127.0.11.200"), netip.Prefix{}, "eu", "eu")
	answer(t, s, netip.MustParseAddr("127.0.12.7"), netip.Prefix{}, "us", "us")
	answer(t, s, srcUS, netip.Prefix{}, "us", "us")
}

func TestPolicyByECS(t *testing.T) {
	s := newLab(t, pausedSystem(t), nil).srv
	// the client subnet wins over the resolver's address
	answer(t, s, srcUS, netip.MustParsePrefix("10.2.7.0/24"), "eu", "eu")
	answer(t, s, srcEU, netip.MustParsePrefix("10.1.0.0/16"), "us", "us")
	// a subnet of no region: the resolver's address decides
	answer(t, s, srcEU, netip.MustParsePrefix("192.0.2.0/24"), "eu", "eu")
}

func TestPolicyHealth(t *testing.T) {
	s := newLab(t, pausedSystem(t), nil).srv
	s.dcs[0].healthy.Store(false) // us
	if s.Healthy("us") || !s.Healthy("eu") || s.Healthy("nowhere") {
		t.Fatalf("Healthy: us %v, eu %v", s.Healthy("us"), s.Healthy("eu"))
	}
	answer(t, s, srcUS, netip.Prefix{}, "us", "eu")
	answer(t, s, srcEU, netip.Prefix{}, "eu", "eu")
	if d := s.Snap().Detail.String(); d != "geodns · ttl 30s · us down, eu up" {
		t.Errorf("detail %q", d)
	}
	// none healthy: fail open, every DC in the region's order
	s.dcs[1].healthy.Store(false)
	answer(t, s, srcUS, netip.Prefix{}, "us", "us", "eu")
	answer(t, s, srcEU, netip.Prefix{}, "eu", "eu", "us")
	if d := s.Snap().Detail.String(); d != "geodns · ttl 30s · us down, eu down · none healthy: answering every DC" {
		t.Errorf("detail %q", d)
	}
	s.SetSecond(true) // changes nothing when failing open
	answer(t, s, srcUS, netip.Prefix{}, "us", "us", "eu")
}

func TestPolicySecond(t *testing.T) {
	s := newLab(t, pausedSystem(t), nil).srv
	s.SetSecond(true)
	answer(t, s, srcUS, netip.Prefix{}, "us", "us", "eu")
	answer(t, s, srcEU, netip.Prefix{}, "eu", "eu", "us")
	s.dcs[1].healthy.Store(false) // eu: no second healthy DC
	answer(t, s, srcUS, netip.Prefix{}, "us", "us")
	answer(t, s, srcEU, netip.Prefix{}, "eu", "us")
}

func TestPolicyWeighted(t *testing.T) {
	s := newLab(t, pausedSystem(t), nil).srv
	if err := s.SetPolicy("nearest"); !errors.Is(err, engine.ErrUnknownKnob) {
		t.Errorf("SetPolicy(nearest) = %v", err)
	}
	if err := s.SetPolicy(PolicyWeighted); err != nil || s.Policy() != PolicyWeighted {
		t.Fatalf("SetPolicy: %v, policy %s", err, s.Policy())
	}
	s.SetWeights(map[string]int{"us": 90, "eu": 10})
	const n = 2000
	count := map[string]int{}
	for range n {
		_, dcs := s.Answer(srcEU, netip.Prefix{})
		if len(dcs) != 1 {
			t.Fatalf("answer %v, want one DC", dcs)
		}
		count[dcs[0]]++
	}
	if share := 100 * float64(count["us"]) / n; share < 87 || share > 93 {
		t.Errorf("us got %.1f%% of %d answers at weight 90 (%v)", share, n, count)
	}
	t.Logf("weights us 90, eu 10: %v", count)

	// the second record is the region's nearest other healthy DC
	s.SetSecond(true)
	for range 50 {
		_, dcs := s.Answer(srcEU, netip.Prefix{})
		if want := map[string]string{"us": "eu", "eu": "us"}[dcs[0]]; len(dcs) != 2 || dcs[1] != want {
			t.Fatalf("answer %v with a second record", dcs)
		}
	}
	s.SetSecond(false)

	// a DC that is down gets no share; a missing weight is 0
	s.dcs[0].healthy.Store(false)
	for range 50 {
		if _, dcs := s.Answer(srcUS, netip.Prefix{}); !slices.Equal(dcs, []string{"eu"}) {
			t.Fatalf("us down: answer %v", dcs)
		}
	}
	// no healthy DC has a weight: the nearest healthy one
	s.SetWeights(map[string]int{"us": 100})
	answer(t, s, srcUS, netip.Prefix{}, "us", "eu")
	if l := linesOf(s); !strings.Contains(l, "us answer: by weight: no healthy DC has a weight") {
		t.Errorf("lines:\n%s", l)
	}
}

func linesOf(s *Server) string {
	var b strings.Builder
	for _, l := range s.Snap().Lines {
		b.WriteString(l.String() + "\n")
	}
	return b.String()
}

func TestServerConfigErrors(t *testing.T) {
	sys := pausedSystem(t)
	ok := func() ServerConfig {
		return ServerConfig{Name: "dns", Zone: "scalelab.test.", Host: "www.scalelab.test.",
			DCs:     []DC{{Name: "us", IP: ipUS}},
			Regions: []Region{{Name: "us", Prefer: []string{"us"}}}}
	}
	for _, tc := range []struct {
		edit func(*ServerConfig)
		want string
	}{
		{func(c *ServerConfig) { c.Name = "" }, "no name"},
		{func(c *ServerConfig) { c.Host = "www.example.com." }, "not in zone"},
		{func(c *ServerConfig) { c.DCs = nil }, "at least one DC"},
		{func(c *ServerConfig) { c.DCs = append(c.DCs, c.DCs[0]) }, "unique"},
		{func(c *ServerConfig) { c.DCs[0].IP = netip.MustParseAddr("::1") }, "not an IPv4"},
		{func(c *ServerConfig) { c.Regions[0].Prefer = []string{"mars"} }, "which is no DC"},
		{func(c *ServerConfig) { c.TTL = -1 }, "negative"},
	} {
		cfg := ok()
		tc.edit(&cfg)
		if _, err := NewServer(sys, cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
