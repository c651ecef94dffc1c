package lb

import (
	"net"
	"net/http"
	"scalelab/engine/internal/hash"
	"sync/atomic"
)

// Policy picks the target for one request among the eligible ones (healthy
// and not draining). targets is never written by a policy and may be empty,
// in which case Select returns nil. Implementations are safe for concurrent
// use.
type Policy interface {
	Select(targets []*target, r *http.Request) *target
}

// Policy names, in the order the lb.policy knob cycles through them.
const (
	PolicyRoundRobin = "round-robin"
	PolicyLeastConn  = "least-conn"
	PolicyP2C        = "p2c"
	PolicyHashCookie = "hash-cookie"
	PolicyHashIP     = "hash-ip"
	PolicySticky     = "sticky-cookie"
)

// StickyCookie is the cookie the sticky-cookie policy inserts: its value
// names the target that answered (HAProxy's "cookie SERVERID insert").
const StickyCookie = "SERVERID"

// PolicyNames lists every selection policy.
func PolicyNames() []string {
	return []string{PolicyRoundRobin, PolicyLeastConn, PolicyP2C, PolicyHashCookie, PolicyHashIP, PolicySticky}
}

// NewPolicy returns a fresh policy by name; seed drives the random ones.
func NewPolicy(name string, seed int64) (Policy, bool) {
	switch name {
	case PolicyRoundRobin:
		return &roundRobin{}, true
	case PolicyLeastConn:
		return &leastConn{}, true
	case PolicyP2C:
		p := &powerOfTwo{}
		p.state.Store(uint64(seed))
		return p, true
	case PolicyHashCookie:
		return &hashCookie{name: "uid"}, true
	case PolicyHashIP:
		return &hashIP{}, true
	case PolicySticky:
		return &stickyCookie{}, true
	}
	return nil, false
}

// roundRobin hands requests to each target in turn.
type roundRobin struct{ next atomic.Uint64 }

func (p *roundRobin) Select(targets []*target, _ *http.Request) *target {
	if len(targets) == 0 {
		return nil
	}
	return targets[(p.next.Add(1)-1)%uint64(len(targets))]
}

// leastConn picks the target with the fewest requests in flight. Ties are
// broken by starting the scan at a rotating offset, so idle targets share
// the work instead of the first one taking it all.
type leastConn struct{ next atomic.Uint64 }

func (p *leastConn) Select(targets []*target, _ *http.Request) *target {
	n := len(targets)
	if n == 0 {
		return nil
	}
	start := int((p.next.Add(1) - 1) % uint64(n))
	best := targets[start]
	least := best.active.Load()
	for i := 1; i < n && least > 0; i++ {
		t := targets[(start+i)%n]
		if a := t.active.Load(); a < least {
			best, least = t, a
		}
	}
	return best
}

// powerOfTwo picks two different targets at random and takes the one with
// fewer requests in flight: nearly as good as least-conn, without reading
// every target. The random numbers come from a seeded splitmix64 sequence
// advanced atomically, so it needs no lock.
type powerOfTwo struct{ state atomic.Uint64 }

func (p *powerOfTwo) rand() uint64 {
	return hash.Mix64(p.state.Add(0x9e3779b97f4a7c15))
}

func (p *powerOfTwo) Select(targets []*target, _ *http.Request) *target {
	n := uint64(len(targets))
	switch n {
	case 0:
		return nil
	case 1:
		return targets[0]
	}
	x := p.rand()
	i := x % n
	j := (x >> 32) % (n - 1)
	if j >= i {
		j++ // j is any index but i
	}
	a, b := targets[i], targets[j]
	if b.active.Load() < a.active.Load() {
		return b
	}
	return a
}

// hashCookie keeps a user on one target by hashing a cookie (sticky
// sessions); requests without the cookie go round robin. Hashing is
// rendezvous (highest random weight): when a target leaves, only its own
// users move.
type hashCookie struct {
	name     string
	fallback roundRobin
}

func (p *hashCookie) Select(targets []*target, r *http.Request) *target {
	if len(targets) == 0 {
		return nil
	}
	c, err := r.Cookie(p.name)
	if err != nil || c.Value == "" {
		return p.fallback.Select(targets, r)
	}
	return rendezvous(targets, c.Value)
}

// stickyCookie keeps a user on the target named by the SERVERID cookie the
// load balancer itself set on an earlier answer (HAProxy's "cookie SERVERID
// insert indirect nocache" with "option redispatch"). A request without the
// cookie, or whose target is out of service, goes round robin, and the
// answer sets the cookie anew. Unlike hash-cookie, users stay put when
// targets join or leave, and the load balancer must see every answer. The
// load balancer also keeps cookie holders on a draining target while it is
// still in service (see LB.pinnedDraining), strips the cookie before
// forwarding and inserts it in the answer (see serveHTTP).
type stickyCookie struct{ fallback roundRobin }

func (p *stickyCookie) Select(targets []*target, r *http.Request) *target {
	if len(targets) == 0 {
		return nil
	}
	if name := pinnedName(r); name != "" {
		for _, t := range targets {
			if t.name == name {
				return t
			}
		}
	}
	return p.fallback.Select(targets, r) // redispatch
}

// pinnedName is the target the request's SERVERID cookie names, "" if none.
func pinnedName(r *http.Request) string {
	c, err := r.Cookie(StickyCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// hashIP keeps a client on one target by hashing its IP address. Every
// client behind one NAT (or, in the lab, on loopback) lands on the same
// target.
type hashIP struct{}

func (hashIP) Select(targets []*target, r *http.Request) *target {
	if len(targets) == 0 {
		return nil
	}
	return rendezvous(targets, clientIP(r))
}

// clientIP is the host part of RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rendezvous returns the target whose hash of key and name is highest.
func rendezvous(targets []*target, key string) *target {
	t, _ := hash.Rendezvous(targets, func(t *target) string { return t.name }, key)
	return t
}
