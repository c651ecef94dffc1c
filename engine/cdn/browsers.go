package cdn

import (
	"context"
	"net/http"
	"scalelab/engine"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Region is where a share of the users are, and how far (modelled round
// trips, spent on the lab clock) they are from their region's edge and
// from the origin.
type Region struct {
	Name     string
	Share    float64 // of the users; shares need not sum to 1
	ToEdge   time.Duration
	ToOrigin time.Duration
}

// FileShare is how often a page load asks for a file.
type FileShare struct {
	Name   string
	Weight int
}

// Browsers are the load's users fetching static files: each user lives in a
// region and asks its region's edge, or the origin when the CDN is off or,
// with fallback on, when the edge fails. A response older than the release
// that was current when the user asked is counted as stale. Use Fetch and
// Observe as the load's Fetch and Observe.
type Browsers struct {
	clock   *engine.Clock
	origin  *Origin
	edges   map[string]*Edge
	regions []Region
	cum     []float64
	files   []string // one name per weight unit

	useCDN, versioned, fallback atomic.Bool

	// Latency is recorded under "<region>" and "<region>/<route>" (route
	// cdn or origin, as the request went) and "<region>/fallback".
	Latency *engine.Book

	stale, fallbacks atomic.Int64
	mu               sync.Mutex
	lastStale        time.Duration
	staleSent        []time.Duration // when each stale response's request was sent, in order
}

// NewBrowsers makes the users of a CDN; the CDN is on and fallback on.
func NewBrowsers(clock *engine.Clock, origin *Origin, edges []*Edge, regions []Region, files []FileShare) *Browsers {
	b := &Browsers{clock: clock, origin: origin, edges: map[string]*Edge{}, regions: regions, Latency: engine.NewBook(clock), lastStale: -1}
	for _, e := range edges {
		b.edges[e.Region()] = e
	}
	var sum float64
	for _, r := range regions {
		sum += r.Share
		b.cum = append(b.cum, sum)
	}
	for i := range b.cum {
		b.cum[i] /= sum
	}
	for _, f := range files {
		for i := 0; i < f.Weight; i++ {
			b.files = append(b.files, f.Name)
		}
	}
	b.useCDN.Store(true)
	b.fallback.Store(true)
	return b
}

// SetCDN sends users to their edges (true) or straight to the origin.
func (b *Browsers) SetCDN(on bool) { b.useCDN.Store(on) }

// CDN reports whether users go to their edges.
func (b *Browsers) CDN() bool { return b.useCDN.Load() }

// SetVersioned makes pages use versioned URLs.
func (b *Browsers) SetVersioned(on bool) { b.versioned.Store(on) }

// SetFallback makes users retry at the origin when their edge fails.
func (b *Browsers) SetFallback(on bool) { b.fallback.Store(on) }

// RegionOf is a user's region: fixed per user, spread by the shares.
func (b *Browsers) RegionOf(user int) Region {
	x := float64(uint32(user)*2654435761%10007) / 10007 // a fixed scatter of users over [0,1)
	for i, c := range b.cum {
		if x < c {
			return b.regions[i]
		}
	}
	return b.regions[len(b.regions)-1]
}

// Stale is how many stale responses users got, and the lab time of the
// last one (-1 when none).
func (b *Browsers) Stale() (int64, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stale.Load(), b.lastStale
}

// StaleSentIn counts the stale responses to requests sent in [from, to):
// a request sent before a purge may still bring an old copy back after it,
// and that one is not the purge's failure.
func (b *Browsers) StaleSentIn(from, to time.Duration) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	lo := sort.Search(len(b.staleSent), func(i int) bool { return b.staleSent[i] >= from })
	hi := sort.Search(len(b.staleSent), func(i int) bool { return b.staleSent[i] >= to })
	return int64(hi - lo)
}

// Fetch fetches one file for a user (the file picked by key). Its tag is
// the route: cdn, origin, or fallback (the origin after the edge failed).
func (b *Browsers) Fetch(ctx context.Context, c *http.Client, _ engine.Op, key, user int) (string, string) {
	reg := b.RegionOf(user)
	name := b.files[key%len(b.files)]
	ver, p := b.origin.Current(name, b.versioned.Load())
	if b.useCDN.Load() {
		if e := b.edges[reg.Name]; e != nil {
			reason := b.get(ctx, c, reg.ToEdge, e.URL()+p, ver)
			if reason == "" || !b.fallback.Load() || ctx.Err() != nil {
				return reason, "cdn"
			}
			b.fallbacks.Add(1)
			return b.get(ctx, c, reg.ToOrigin, b.origin.URL()+p, ver), "fallback"
		}
	}
	return b.get(ctx, c, reg.ToOrigin, b.origin.URL()+p, ver), "origin"
}

// get spends the modelled round trip, then makes the request.
func (b *Browsers) get(ctx context.Context, c *http.Client, rtt time.Duration, url string, want int) string {
	sent := b.clock.Now()
	if err := b.clock.Sleep(ctx, rtt); err != nil {
		return engine.Classify(err, context.Cause(ctx))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return engine.ReasonOther
	}
	resp, err := c.Do(req)
	if err != nil {
		return engine.Classify(err, context.Cause(ctx))
	}
	if reason := engine.Finish(ctx, resp); reason != "" {
		return reason
	}
	if v, _ := strconv.Atoi(resp.Header.Get(HeaderVersion)); v < want {
		b.mu.Lock()
		b.stale.Add(1)
		b.lastStale = b.clock.Now()
		// in send order, though answers may come back out of order
		i := sort.Search(len(b.staleSent), func(i int) bool { return b.staleSent[i] > sent })
		b.staleSent = append(b.staleSent, 0)
		copy(b.staleSent[i+1:], b.staleSent[i:])
		b.staleSent[i] = sent
		b.mu.Unlock()
	}
	return ""
}

// Observe records a finished request's latency by region and route.
func (b *Browsers) Observe(_ engine.Op, _, user int, lat time.Duration, reason, route string) {
	reg := b.RegionOf(user).Name
	failed := reason != ""
	b.Latency.Record(reg, lat, failed)
	b.Latency.Record(reg+"/"+route, lat, failed)
}
