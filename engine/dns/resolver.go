// The caching stub resolver: what stands between the users of a region and
// the DNS server, like an ISP's resolver or the OS cache. It keeps each
// answer for its TTL on the lab clock, and so decides how long users keep
// going to a DC after DNS stopped naming it.

package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"scalelab/engine"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// ErrNoSuchName is a negative answer (NXDOMAIN or NODATA), also when served
// from the cache.
var ErrNoSuchName = errors.New("no such name")

// ErrClosed is returned by a lookup on a closed resolver.
var ErrClosed = errors.New("resolver closed")

// ResolverConfig describes a resolver.
type ResolverConfig struct {
	Region string // "us": names the resolver "resolver-us" in texts
	// Source is the local address queries are sent from (any 127.x.y.z
	// binds on Linux); the server tells the region by it. Invalid: any.
	Source netip.Addr
	Server func() string // the DNS server's host:port, asked at each query
	// ECS, when valid, is sent as an EDNS Client Subnet option.
	ECS netip.Prefix
	// Timeout is the lab time one upstream query may take (default 1s).
	Timeout time.Duration
}

// Answer is the outcome of a lookup.
type Answer struct {
	Addrs    []netip.Addr
	TTL      time.Duration // left, counted down for answers from the cache
	Cached   bool
	Negative bool
}

// ResolverStats are a resolver's counters since it started.
type ResolverStats struct {
	Lookups  int64
	Hits     int64 // lookups answered from the cache
	Misses   int64 // lookups that waited for the server (collapsed ones too)
	Upstream int64 // queries sent to the server
	Failures int64 // lookups that got no answer (timeouts, refusals), negative answers not counted
}

// Entry is one answer the cache holds.
type Entry struct {
	Name     string
	ECS      netip.Prefix // the client subnet it was asked for, when any
	Addrs    []netip.Addr
	Left     time.Duration
	Negative bool
}

// Resolver is a caching stub resolver on the lab clock. Concurrent misses
// for one name are collapsed into one query to the server.
type Resolver struct {
	clock  *engine.Clock
	cfg    ResolverConfig
	client *mdns.Client
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // upstream queries in flight

	mu     sync.Mutex
	cache  map[cacheKey]entry
	flight map[cacheKey]*call
	closed bool

	lookups, hits, misses, upstream, failures atomic.Int64
}

// cacheKey is what an answer is kept under: the name, the type and the
// client subnet it was asked for.
type cacheKey struct {
	name  string
	qtype uint16
	ecs   netip.Prefix
}

type entry struct {
	addrs    []netip.Addr
	expires  time.Duration // lab time
	negative bool
}

// call is one upstream query the lookups of its key wait for.
type call struct {
	done    chan struct{}
	addrs   []netip.Addr
	ttl     time.Duration // as the server gave it
	expires time.Duration
	err     error // ErrNoSuchName for a negative answer
}

// NewResolver makes a resolver; Close ends its queries in flight.
func NewResolver(clock *engine.Clock, cfg ResolverConfig) (*Resolver, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	cfg.Source = cfg.Source.Unmap()
	switch {
	case cfg.Server == nil:
		return nil, fmt.Errorf("resolver-%s: no DNS server", cfg.Region)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("resolver-%s: negative timeout", cfg.Region)
	case cfg.Source.IsValid() && !cfg.Source.IsLoopback():
		return nil, fmt.Errorf("resolver-%s: source %v is not a loopback address", cfg.Region, cfg.Source)
	}
	dialer := &net.Dialer{}
	if cfg.Source.IsValid() {
		dialer.LocalAddr = &net.UDPAddr{IP: cfg.Source.AsSlice()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{
		clock: clock, cfg: cfg, ctx: ctx, cancel: cancel,
		client: &mdns.Client{Net: "udp", Dialer: dialer, UDPSize: udpSize},
		cache:  map[cacheKey]entry{},
		flight: map[cacheKey]*call{},
	}, nil
}

// Lookup returns the A records of name: from the cache while its TTL
// lasts, else from the server. A negative answer returns ErrNoSuchName.
func (r *Resolver) Lookup(ctx context.Context, name string) (Answer, error) {
	return r.LookupSubnet(ctx, name, r.cfg.ECS)
}

// LookupSubnet is Lookup on behalf of clients of subnet ecs (sent as EDNS
// Client Subnet when valid) instead of the configured one, as a public
// resolver serving many regions does; answers are kept apart by subnet.
func (r *Resolver) LookupSubnet(ctx context.Context, name string, ecs netip.Prefix) (Answer, error) {
	key := cacheKey{name: canonical(name), qtype: mdns.TypeA, ecs: ecs.Masked()}
	r.lookups.Add(1)
	now := r.clock.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.failures.Add(1)
		return Answer{}, ErrClosed
	}
	if e, ok := r.cache[key]; ok {
		if now < e.expires {
			r.mu.Unlock()
			r.hits.Add(1)
			return answerOf(e.addrs, e.expires-now, true, e.negative)
		}
		delete(r.cache, key)
	}
	r.misses.Add(1)
	c, ok := r.flight[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		r.flight[key] = c
		r.upstream.Add(1)
		r.wg.Add(1)
		go r.fetch(key, c)
	}
	r.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		r.failures.Add(1)
		return Answer{}, ctx.Err()
	}
	negative := errors.Is(c.err, ErrNoSuchName)
	if c.err != nil && !negative {
		r.failures.Add(1)
		return Answer{}, c.err
	}
	return answerOf(c.addrs, c.ttl, false, negative)
}

// Prime looks name up and keeps the answer as if it had been fetched age
// ago: a resolver that has been running for a while holds answers of every
// age, so the resolvers of a region do not all expire at once. An answer
// older than its TTL is not kept.
func (r *Resolver) Prime(ctx context.Context, name string, age time.Duration) error {
	if _, err := r.Lookup(ctx, name); err != nil && !errors.Is(err, ErrNoSuchName) {
		return err
	}
	key := cacheKey{name: canonical(name), qtype: mdns.TypeA, ecs: r.cfg.ECS.Masked()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.cache[key]; ok {
		e.expires -= age
		if e.expires <= r.clock.Now() {
			delete(r.cache, key)
		} else {
			r.cache[key] = e
		}
	}
	return nil
}

// answerOf makes a lookup's answer; a negative one comes with ErrNoSuchName.
func answerOf(addrs []netip.Addr, left time.Duration, cached, negative bool) (Answer, error) {
	a := Answer{Addrs: slices.Clone(addrs), TTL: left, Cached: cached, Negative: negative}
	if negative {
		return a, ErrNoSuchName
	}
	return a, nil
}

// fetch asks the server for key, keeps the answer and hands it to the
// lookups waiting for it.
func (r *Resolver) fetch(key cacheKey, c *call) {
	defer r.wg.Done()
	ctx, cancel := r.clock.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	resp, err := r.exchange(ctx, key)
	if err == nil {
		c.addrs, c.ttl, err = interpret(key.name, resp)
	}
	c.expires, c.err = r.clock.Now()+c.ttl, err
	keep := (err == nil || errors.Is(err, ErrNoSuchName)) && c.ttl > 0
	r.mu.Lock()
	delete(r.flight, key)
	if keep && !r.closed {
		r.cache[key] = entry{addrs: c.addrs, expires: c.expires, negative: err != nil}
	}
	r.mu.Unlock()
	close(c.done)
}

// exchange sends one query over UDP from the resolver's source and waits
// for its answer until ctx ends. ctx runs on the lab clock and has no
// deadline of its own, so the socket gets a generous real one, and ctx's
// end sets a deadline in the past, which wakes the read at once.
func (r *Resolver) exchange(ctx context.Context, key cacheKey) (*mdns.Msg, error) {
	server := r.cfg.Server()
	if server == "" {
		return nil, fmt.Errorf("resolver-%s: no DNS server to ask", r.cfg.Region)
	}
	m := new(mdns.Msg)
	m.SetQuestion(key.name, key.qtype)
	if key.ecs.IsValid() {
		opt := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		opt.SetUDPSize(udpSize)
		family := uint16(1)
		if key.ecs.Addr().Is6() {
			family = 2
		}
		opt.Option = append(opt.Option, &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: family,
			SourceNetmask: uint8(key.ecs.Bits()), Address: key.ecs.Addr().AsSlice()})
		m.Extra = append(m.Extra, opt)
	}
	co, err := r.client.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	co.UDPSize = udpSize
	// a backstop in real time: lab time may run at a quarter speed, or stop
	_ = co.SetDeadline(time.Now().Add(time.Duration(float64(r.cfg.Timeout)/engine.MinSpeed) + time.Second))
	stop := context.AfterFunc(ctx, func() { _ = co.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := co.WriteMsg(m); err != nil {
		return nil, r.failed(ctx, server, err)
	}
	for {
		resp, err := co.ReadMsg()
		if err != nil {
			return nil, r.failed(ctx, server, err)
		}
		if resp.Id == m.Id { // others answer earlier queries
			return resp, nil
		}
	}
}

// failed is the error of a query to server that got no answer.
func (r *Resolver) failed(ctx context.Context, server string, err error) error {
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	return fmt.Errorf("resolver-%s: no answer from %s: %w", r.cfg.Region, server, err)
}

// interpret reads an answer to an A query for name: its addresses and
// the smallest TTL among them; a negative answer (ErrNoSuchName) and how
// long it may be kept, min(SOA minimum, SOA TTL), or 0 with no SOA; or an
// error for a refusal or a server failure.
func interpret(name string, resp *mdns.Msg) ([]netip.Addr, time.Duration, error) {
	switch resp.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		return nil, negativeTTL(resp), fmt.Errorf("%s: %w", name, ErrNoSuchName)
	default:
		return nil, 0, fmt.Errorf("%s: server answered %s", name, mdns.RcodeToString[resp.Rcode])
	}
	var addrs []netip.Addr
	ttl := uint32(0)
	for _, rr := range resp.Answer {
		a, ok := rr.(*mdns.A)
		if !ok || canonical(a.Hdr.Name) != name {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.A)
		if !ok {
			continue
		}
		if len(addrs) == 0 || a.Hdr.Ttl < ttl {
			ttl = a.Hdr.Ttl
		}
		addrs = append(addrs, ip.Unmap())
	}
	if len(addrs) == 0 { // NODATA
		return nil, negativeTTL(resp), fmt.Errorf("%s: %w", name, ErrNoSuchName)
	}
	return addrs, time.Duration(ttl) * time.Second, nil
}

// negativeTTL is how long a negative answer may be kept (RFC 2308).
func negativeTTL(resp *mdns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return time.Duration(min(soa.Minttl, soa.Hdr.Ttl)) * time.Second
		}
	}
	return 0
}

// Stats returns the resolver's counters.
func (r *Resolver) Stats() ResolverStats {
	return ResolverStats{Lookups: r.lookups.Load(), Hits: r.hits.Load(), Misses: r.misses.Load(),
		Upstream: r.upstream.Load(), Failures: r.failures.Load()}
}

// Entries returns what the cache holds now, sorted by name (then subnet);
// expired answers are left out.
func (r *Resolver) Entries() []Entry {
	now := r.clock.Now()
	r.mu.Lock()
	out := make([]Entry, 0, len(r.cache))
	for k, e := range r.cache {
		if now < e.expires {
			out = append(out, Entry{Name: k.name, ECS: k.ecs, Addrs: slices.Clone(e.addrs), Left: e.expires - now, Negative: e.negative})
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.ECS.Addr().Compare(b.ECS.Addr()), cmp.Compare(a.ECS.Bits(), b.ECS.Bits()))
	})
	return out
}

// Flush empties the cache.
func (r *Resolver) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.cache)
}

// Close ends the queries in flight and waits for them; lookups fail from
// then on.
func (r *Resolver) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}
