// The data centers chapter's topology: two data centers on loopback
// addresses of their own, a GeoDNS server, each region's resolvers, the
// users, and a database replicated across the ocean.

package datacenters

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/dns"
	"scalelab/engine/lb"
	"scalelab/engine/repl"
	"scalelab/engine/web"
)

// The chapter's load: 200 req/s from 3,000 users in three regions.
const (
	dcRate  = 200
	dcUsers = 3000
	// resolversPerRegion: each region's users share this many resolvers
	// (their ISPs'); each asks DNS once per TTL.
	resolversPerRegion = 16
	// webPerDC: one web server behind each data center's load balancer
	// keeps every node in sight on an 80×24 screen
	webPerDC = 1
	// host is the name users resolve.
	host = "www.scalelab.test."
	zone = "scalelab.test."
)

// Distances, modelled: a round trip within a region, across the Atlantic,
// and from Asia. The replication link is one way.
const (
	near      = 10 * time.Millisecond
	ocean     = 100 * time.Millisecond
	replDelay = 50 * time.Millisecond
)

// dcInfo is a data center: its name and the loopback address its load
// balancer listens on.
type dcInfo struct {
	name string
	ip   netip.Addr
	db   string // the database that lives there
}

var dcs = []dcInfo{
	{name: "us", ip: netip.MustParseAddr("127.0.1.1"), db: "db-1"},
	{name: "eu", ip: netip.MustParseAddr("127.0.1.2"), db: "db-2"},
}

// region is where a share of the users are.
type region struct {
	name   string
	share  float64
	prefer []string                 // data centers, nearest first
	rtt    map[string]time.Duration // to each data center
	third  byte                     // the resolvers' source addresses: 127.0.<third>.x
	subnet netip.Prefix             // the users' subnet
}

var regions = []region{
	{name: "us", share: 45, prefer: []string{"us", "eu"}, rtt: map[string]time.Duration{"us": near, "eu": ocean}, third: 10, subnet: netip.MustParsePrefix("10.1.0.0/16")},
	{name: "eu", share: 35, prefer: []string{"eu", "us"}, rtt: map[string]time.Duration{"us": ocean, "eu": near}, third: 11, subnet: netip.MustParsePrefix("10.2.0.0/16")},
	{name: "ap", share: 20, prefer: []string{"us", "eu"}, rtt: map[string]time.Duration{"us": 160 * time.Millisecond, "eu": 170 * time.Millisecond}, third: 12, subnet: netip.MustParsePrefix("10.3.0.0/16")},
}

// lab is one step's topology.
type lab struct {
	sys     *engine.System
	dns     *dns.Server
	res     map[string][]*dns.Resolver // by region
	clients *dns.Clients
	cl      *repl.Cluster
	lbs     map[string]*lb.LB
	members map[string][]engine.Node // each data center's nodes
	port    int
	ips     map[netip.Addr]string // data center by entry address
	lead    []string

	gauge *kit.Ring
	w     watchState
}

// tune is what differs between steps.
type tune struct {
	geo      bool   // answers by region; else every answer is us
	weights  string // the dns.weights knob's first value
	ttl      string
	mix      engine.Mix
	keys     int
	knobs    []string
	lead     []string
	fallback bool
}

// freePort finds a port free on every data center's address, so that each
// entry listens on the same port (as every site serves on 443) and DNS need
// only give the address.
func freePort() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(dcs[0].ip.String(), "0"))
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ok := true
		var held []net.Listener
		for _, d := range dcs[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(d.ip.String(), strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l2)
		}
		ln.Close()
		for _, l := range held {
			l.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on every data center's address")
}

func build(sys *engine.System, opt chapters.Options, tn tune) (*lab, error) {
	l := &lab{sys: sys, res: map[string][]*dns.Resolver{}, lbs: map[string]*lb.LB{}, members: map[string][]engine.Node{}, lead: tn.lead,
		gauge: kit.NewRing(20 * time.Second)}
	l.w.init()
	// the data, replicated from us to eu across the ocean
	cfg := repl.DefaultClusterConfig()
	cfg.Replicas, cfg.Seed, cfg.LinkDelay = 1, opt.Seed, replDelay
	cl, err := repl.NewCluster(sys, cfg)
	if err != nil {
		return nil, err
	}
	l.cl = cl
	if l.port, err = freePort(); err != nil {
		return nil, err
	}
	for _, d := range dcs {
		if err := l.buildDC(d, opt); err != nil {
			return nil, err
		}
	}
	// GeoDNS, health-checking each data center through its load balancer
	ttl, err := time.ParseDuration(tn.ttl)
	if err != nil {
		return nil, err
	}
	var dnsDCs []dns.DC
	for _, d := range dcs {
		url := fmt.Sprintf("http://%s/health", net.JoinHostPort(d.ip.String(), strconv.Itoa(l.port)))
		dnsDCs = append(dnsDCs, dns.DC{Name: d.name, IP: d.ip, Health: func() string { return url }})
	}
	var dnsRegions []dns.Region
	for _, r := range regions {
		dnsRegions = append(dnsRegions, dns.Region{Name: r.name, Sources: netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, r.third, 0}), 24), Subnet: r.subnet, Prefer: r.prefer})
	}
	l.dns, err = dns.NewServer(sys, dns.ServerConfig{Name: "dns", Zone: zone, Host: host, DCs: dnsDCs, Regions: dnsRegions, TTL: ttl, Seed: opt.Seed,
		// a check waits a second: a busy data center is not a dead one
		Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(l.dns); err != nil {
		return nil, err
	}
	l.dns.Describe(l.resolverLines)
	// each region's resolvers and its users
	var places []dns.Place
	for _, r := range regions {
		for i := range resolversPerRegion {
			res, err := dns.NewResolver(sys.Clock, dns.ResolverConfig{Region: r.name, Source: netip.AddrFrom4([4]byte{127, 0, r.third, byte(i + 1)}), Server: l.dns.Addr})
			if err != nil {
				return nil, err
			}
			sys.OnClose(res.Close)
			l.res[r.name] = append(l.res[r.name], res)
		}
		places = append(places, dns.Place{Name: r.name, Share: r.share, Resolvers: l.res[r.name], RTT: r.rtt})
	}
	l.ips = map[netip.Addr]string{}
	for _, d := range dcs {
		l.ips[d.ip] = d.name
	}
	l.clients = dns.NewClients(sys.Clock, dns.ClientsConfig{Host: host, Port: func() int { return l.port }, DCOf: l.dcOf, Places: places})
	if err := l.knobs(tn); err != nil {
		return nil, err
	}
	// the resolvers have been running before the lab starts: each holds the
	// answer of its age, spread over a TTL, so a region's resolvers do not
	// all ask again at the same moment (as real ones do not)
	for _, r := range regions {
		for i, res := range l.res[r.name] {
			age := time.Duration(float64(ttl) * (float64(i) + 0.5) / resolversPerRegion)
			if err := res.Prime(sys.Context(), host, age); err != nil {
				return nil, fmt.Errorf("resolver of %s: %w", r.name, err)
			}
		}
	}
	for _, d := range dcs {
		members := l.members[d.name]
		sys.Alias("dc:"+d.name, func() []engine.Node { return members })
	}
	sys.AddGauges(l.gauges)

	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Seed, lc.Mix, lc.Users, lc.Keys = dcRate, opt.Seed, tn.mix, dcUsers, tn.keys
	if opt.Rate > 0 {
		lc.Rate = opt.Rate
	}
	lc.Fetch, lc.Observe = l.clients.Fetch, l.clients.Observe
	ld, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// buildDC makes a data center: its load balancer on the data center's own
// address, a private web server, and its routes to the data: reads
// from the database in the same data center, writes to the primary
// wherever it is (across the ocean costs a round trip).
func (l *lab) buildDC(d dcInfo, opt chapters.Options) error {
	cfg := lb.DefaultLBConfig("lb-" + d.name)
	cfg.Seed, cfg.Listen = opt.Seed, net.JoinHostPort(d.ip.String(), strconv.Itoa(l.port))
	b, err := lb.NewLB(cfg, l.sys)
	if err != nil {
		return err
	}
	if err := l.sys.AddNode(b); err != nil {
		return err
	}
	l.lbs[d.name] = b
	l.members[d.name] = append(l.members[d.name], b)
	for i := 1; i <= webPerDC; i++ {
		name := fmt.Sprintf("web-%s-%d", d.name, i)
		rt := repl.NewRouter(l.sys, l.cl, name)
		rt.SetLocal(d.db)
		for _, o := range dcs {
			if o.name != d.name {
				if link, ok := l.sys.Link(name + ">" + o.db); ok {
					link.SetLatency(ocean)
				}
			}
		}
		w, err := web.NewWebNode(l.sys, web.WebConfig{Name: name, Size: "large", Work: engine.WorkModel{Web: 2 * time.Millisecond}, Private: true,
			Store: func() engine.Store { return rt }})
		if err != nil {
			return err
		}
		if err := l.sys.AddNode(w); err != nil {
			return err
		}
		b.AddTarget(w, l.sys.AddLink(b.Name(), name))
		l.members[d.name] = append(l.members[d.name], w)
	}
	for _, n := range l.cl.Nodes() {
		if n.Name() == d.db {
			l.members[d.name] = append(l.members[d.name], n)
		}
	}
	return nil
}

func step(tn tune) func(sys *engine.System, opt chapters.Options) (*lab, error) {
	return func(sys *engine.System, opt chapters.Options) (*lab, error) { return build(sys, opt, tn) }
}

// dcOf is the data center an entry address belongs to.
func (l *lab) dcOf(a netip.Addr) string { return l.ips[a] }
