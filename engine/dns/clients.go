// The load's users in a world of several data centers: each resolves the
// service's name through its region's resolver and connects to the address
// it got, paying the modelled distance to that data center.

package dns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// ReasonDNS names a request that failed because its name did not resolve.
const ReasonDNS = "dns"

// Place is a region of users: their share of the users, the resolvers
// they use (each user keeps to one, as a home network keeps to its ISP's)
// and their modelled round trip to each data center.
type Place struct {
	Name      string
	Share     float64
	Resolvers []*Resolver
	RTT       map[string]time.Duration // by data center
}

// ClientsConfig describes the users.
type ClientsConfig struct {
	Host   string     // the name users resolve, "www.scalelab.test."
	Port   func() int // the port every data center's entry listens on
	DCOf   func(netip.Addr) string
	Places []Place
}

// Clients are the load's users: use Fetch and Observe as the load's. A
// request's tag is "region|dc": where the user is and the data center the
// address it connected to belongs to ("-" when the name did not resolve).
type Clients struct {
	clock    *engine.Clock
	cfg      ClientsConfig
	cum      []float64
	fallback atomic.Bool
	// Latency is recorded under "<region>", "<region>/write" (writes
	// only), "dc:<dc>" and "<region>|<dc>".
	Latency *engine.Book

	fallbacks atomic.Int64
	mu        sync.Mutex
	secs      []map[string][2]int64 // per load second of sending: tag → ok, failed
	failSent  []time.Duration       // send times of failed requests, in finishing order
}

// NewClients makes the users.
func NewClients(clock *engine.Clock, cfg ClientsConfig) *Clients {
	c := &Clients{clock: clock, cfg: cfg, Latency: engine.NewBook(clock)}
	var sum float64
	for _, p := range cfg.Places {
		sum += p.Share
		c.cum = append(c.cum, sum)
	}
	for i := range c.cum {
		c.cum[i] /= sum
	}
	return c
}

// SetFallback makes a user whose request fails retry at the answer's
// second address, when it has one.
func (c *Clients) SetFallback(on bool) { c.fallback.Store(on) }

// Fallback reports whether users retry at a second address.
func (c *Clients) Fallback() bool { return c.fallback.Load() }

// Fallbacks is how many requests were retried at a second address.
func (c *Clients) Fallbacks() int64 { return c.fallbacks.Load() }

// PlaceOf is a user's region: fixed per user, spread by the shares.
func (c *Clients) PlaceOf(user int) Place {
	x := float64(uint32(user)*2654435761%10007) / 10007
	for i, v := range c.cum {
		if x < v {
			return c.cfg.Places[i]
		}
	}
	return c.cfg.Places[len(c.cfg.Places)-1]
}

// resolverOf is the resolver a user asks.
func (c *Clients) resolverOf(p Place, user int) *Resolver {
	return p.Resolvers[(uint32(user)*40503>>4)%uint32(len(p.Resolvers))]
}

// Fetch resolves the name and sends one request to the address it got;
// with fallback on, a failed request is retried at the second address.
func (c *Clients) Fetch(ctx context.Context, hc *http.Client, op engine.Op, key, user int) (string, string) {
	p := c.PlaceOf(user)
	ans, err := c.resolverOf(p, user).Lookup(ctx, c.cfg.Host)
	if err != nil || len(ans.Addrs) == 0 {
		if ctx.Err() != nil {
			return engine.Classify(ctx.Err(), context.Cause(ctx)), p.Name + "|-"
		}
		return ReasonDNS, p.Name + "|-"
	}
	reason, dc := c.send(ctx, hc, p, ans.Addrs[0], op, key, user)
	if reason != "" && c.fallback.Load() && len(ans.Addrs) > 1 && ctx.Err() == nil {
		c.fallbacks.Add(1)
		reason, dc = c.send(ctx, hc, p, ans.Addrs[1], op, key, user)
	}
	return reason, p.Name + "|" + dc
}

// send spends the modelled round trip to the address's data center, then
// makes the request there.
func (c *Clients) send(ctx context.Context, hc *http.Client, p Place, addr netip.Addr, op engine.Op, key, user int) (string, string) {
	dc := c.cfg.DCOf(addr)
	if err := c.clock.Sleep(ctx, p.RTT[dc]); err != nil {
		return engine.Classify(err, context.Cause(ctx)), dc
	}
	base := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(c.cfg.Port()))
	var req *http.Request
	var err error
	if op == engine.OpWrite {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/post?user=%d", base, key), strings.NewReader("hello from "+p.Name))
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%s?id=%d", base, op, key), nil)
	}
	if err != nil {
		return engine.ReasonOther, dc
	}
	req.Header.Set("X-Scalelab-User", fmt.Sprintf("u%d", user))
	resp, err := hc.Do(req)
	if err != nil {
		return engine.Classify(err, context.Cause(ctx)), dc
	}
	return engine.Finish(ctx, resp), dc
}

// Observe records a finished request by region and data center, in the
// second it was sent.
func (c *Clients) Observe(op engine.Op, _, _ int, lat time.Duration, reason, tag string) {
	region, dc, _ := strings.Cut(tag, "|")
	failed := reason != ""
	c.Latency.Record(region, lat, failed)
	if op == engine.OpWrite {
		c.Latency.Record(region+"/write", lat, failed)
	}
	c.Latency.Record("dc:"+dc, lat, failed)
	c.Latency.Record(tag, lat, failed)
	sent := c.clock.Now() - lat
	sec := int(max(sent, 0) / time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.secs) <= sec {
		c.secs = append(c.secs, map[string][2]int64{})
	}
	v := c.secs[sec][tag]
	if failed {
		v[1]++
		c.failSent = append(c.failSent, sent)
	} else {
		v[0]++
	}
	c.secs[sec][tag] = v
}

// Seconds sums, over load seconds [from, to) of sending, the requests
// finished so far: tag → ok, failed.
func (c *Clients) Seconds(from, to int) map[string][2]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][2]int64{}
	for s := max(from, 0); s < to && s < len(c.secs); s++ {
		for k, v := range c.secs[s] {
			o := out[k]
			o[0] += v[0]
			o[1] += v[1]
			out[k] = o
		}
	}
	return out
}

// FailedSince is how many failed requests were sent at or after t, and
// when the last of them was sent (-1 when none).
func (c *Clients) FailedSince(t time.Duration) (int64, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	last := time.Duration(-1)
	for _, s := range c.failSent {
		if s >= t {
			n++
			last = max(last, s)
		}
	}
	return n, last
}
