// The edges: caching reverse proxies near users, with purge and
// stale-if-error.

package cdn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"scalelab/engine"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// EdgeConfig describes a CDN edge.
type EdgeConfig struct {
	Name   string
	Region string
	Size   string
	Work   time.Duration // modelled work per request
	Origin *Origin
	// Link is the hop to the origin; its latency is the modelled distance.
	Link *engine.Link
}

// Edge is a CDN edge: a caching reverse proxy near its region's users. It
// keeps what the origin allows for as long as Cache-Control says, collapses
// concurrent misses of a file into one origin request, answers PURGE (the
// CDN's invalidation API), and serves an expired copy when the origin fails
// if the response allowed stale-if-error. A kill loses its cache.
type Edge struct {
	*engine.Server
	*engine.Sized
	cfg    EdgeConfig
	client *http.Client
	flight singleflight.Group

	mu    sync.Mutex
	store map[string]*edgeEntry

	hits, misses, fills, collapsed, stale, purged, bytes atomic.Int64
}

type edgeEntry struct {
	body    []byte
	header  http.Header
	stored  time.Duration // lab time
	cc      CacheControl
	retryAt atomic.Int64 // lab time before which a failed origin is not asked again
}

// NewEdge makes an edge (sys.AddNode starts it).
func NewEdge(sys *engine.System, cfg EdgeConfig) (*Edge, error) {
	e := &Edge{cfg: cfg, store: map[string]*edgeEntry{}}
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 128, DisableCompression: true}}
	sys.OnClose(func() error { e.client.CloseIdleConnections(); return nil })
	var err error
	e.Server, e.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: RoleEdge, Layer: engine.LayerEdge, OnKill: e.forget}, cfg.Size, e.handle)
	return e, err
}

// Region is the edge's region.
func (e *Edge) Region() string { return e.cfg.Region }

func (e *Edge) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.store = map[string]*edgeEntry{}
}

// Purge drops the copies of the given paths, or every copy when none are
// given, and returns how many it dropped.
func (e *Edge) Purge(paths ...string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	if len(paths) == 0 {
		n = len(e.store)
		e.store = map[string]*edgeEntry{}
	}
	for _, p := range paths {
		if _, ok := e.store[p]; ok {
			delete(e.store, p)
			n++
		}
	}
	e.purged.Add(int64(n))
	return n
}

func (e *Edge) handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/health":
		io.WriteString(w, "ok")
		return
	case r.Method == "PURGE":
		var paths []string
		if r.URL.Path != "/*" {
			paths = []string{r.URL.Path}
		}
		fmt.Fprintf(w, `{"purged":%d}`, e.Purge(paths...))
		return
	case r.Method != http.MethodGet:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// a worker is held for the edge's own work only: waiting on the origin
	// costs it nothing, as in an event-driven proxy
	release, err := e.Hold(r.Context())
	if err != nil {
		e.Overloaded(w)
		return
	}
	err = e.Work(r.Context(), e.cfg.Work)
	release()
	if err != nil {
		return
	}
	p := r.URL.Path
	now := e.Clock().Now()
	e.mu.Lock()
	ent := e.store[p]
	e.mu.Unlock()
	if ent != nil && now-ent.stored < ent.cc.TTL {
		e.hits.Add(1)
		e.serve(w, ent, "HIT", now)
		return
	}
	stale := ent != nil && now-ent.stored < ent.cc.TTL+ent.cc.StaleIfError
	if stale && now < time.Duration(ent.retryAt.Load()) {
		// the origin failed a moment ago: serve the stale copy without
		// asking again until the retry time
		e.stale.Add(1)
		e.serve(w, ent, "STALE", now)
		return
	}
	e.misses.Add(1)
	v, err, shared := e.flight.Do(p, func() (any, error) { return e.fill(r.Context(), p) })
	if shared {
		e.collapsed.Add(1)
	}
	if err == nil {
		e.serve(w, v.(*edgeEntry), "MISS", e.Clock().Now())
		return
	}
	var nf notFound
	if errors.As(err, &nf) {
		http.NotFound(w, r)
		return
	}
	if stale {
		ent.retryAt.Store(int64(e.Clock().Now() + time.Second))
		e.stale.Add(1)
		e.serve(w, ent, "STALE", now)
		return
	}
	http.Error(w, "origin unreachable: "+err.Error(), http.StatusBadGateway)
}

type notFound struct{}

func (notFound) Error() string { return "not found at the origin" }

// fill fetches a file from the origin across the link and keeps it if
// Cache-Control allows. One fill serves every request collapsed onto it, so
// it does not stop when the first requester gives up.
func (e *Edge) fill(parent context.Context, p string) (*edgeEntry, error) {
	ctx, cancel := e.Clock().WithTimeout(context.WithoutCancel(parent), 2*time.Second)
	defer cancel()
	if e.cfg.Link != nil {
		if err := e.cfg.Link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.Origin.URL()+p, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(headerEdge, e.Name())
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode == http.StatusNotFound:
		return nil, notFound{}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("origin answered %d", resp.StatusCode)
	}
	e.fills.Add(1)
	ent := &edgeEntry{body: body, header: resp.Header.Clone(), stored: e.Clock().Now(), cc: ParseCacheControl(resp.Header.Get("Cache-Control"))}
	if !ent.cc.NoStore && ent.cc.TTL > 0 {
		e.mu.Lock()
		e.store[p] = ent
		e.mu.Unlock()
	}
	return ent, nil
}

func (e *Edge) serve(w http.ResponseWriter, ent *edgeEntry, how string, now time.Duration) {
	h := w.Header()
	for _, k := range []string{"Content-Type", "Cache-Control", "ETag", HeaderVersion} {
		if v := ent.header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(ent.body)))
	h.Set("Age", strconv.Itoa(int((now-ent.stored)/time.Second)))
	h.Set(HeaderCache, how)
	w.Write(ent.body)
	e.bytes.Add(int64(len(ent.body)))
}

// EdgeStats are an edge's counts. Misses include requests collapsed onto
// another's fill; Fills are the origin requests that succeeded.
type EdgeStats struct {
	Hits, Misses, Fills, Collapsed, Stale, Purged, Bytes int64
	Objects                                              int
}

// HitRatio is hits / (hits + misses), 0 with none.
func (s EdgeStats) HitRatio() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}

// Stats returns the counts so far.
func (e *Edge) Stats() EdgeStats {
	e.mu.Lock()
	n := len(e.store)
	e.mu.Unlock()
	return EdgeStats{Hits: e.hits.Load(), Misses: e.misses.Load(), Fills: e.fills.Load(), Collapsed: e.collapsed.Load(),
		Stale: e.stale.Load(), Purged: e.purged.Load(), Bytes: e.bytes.Load(), Objects: n}
}

// Snap adds size, cost and the cache's figures.
func (e *Edge) Snap() engine.NodeSnap {
	s := e.Server.Snap()
	e.Sized.Fill(&s)
	st := e.Stats()
	region := regionText(e.cfg.Region)
	s.Detail = engine.Textf("cdn.edge.detail", "edge %s · %d files", region, st.Objects)
	s.Lines = []engine.Line{
		{Label: engine.Textf("cdn.region", "region"), Value: region},
		{Label: engine.Textf("cdn.hit_ratio", "hit ratio"),
			Value: engine.Textf("cdn.hit_ratio.value", "%.1f%% (%d hits, %d misses)", 100*st.HitRatio(), st.Hits, st.Misses)},
		{Label: engine.Textf("cdn.origin_fills", "origin fills"),
			Value: engine.Textf("cdn.origin_fills.value", "%d · collapsed misses: %d", st.Fills, st.Collapsed)},
		{Label: engine.Textf("cdn.stale_served", "stale-if-error served"),
			Value: engine.Textf("cdn.stale_served.value", "%d · purged: %d", st.Stale, st.Purged)},
	}
	now := e.Clock().Now()
	e.mu.Lock()
	var paths []string
	for p := range e.store {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		ent := e.store[p]
		left := ent.cc.TTL - (now - ent.stored)
		s.Lines = append(s.Lines, engine.Line{Item: true, Label: engine.Textf("cdn.file",
			"%s v%s · ttl left %.0fs", p, ent.header.Get(HeaderVersion), max(left, 0).Seconds())})
	}
	e.mu.Unlock()
	return s
}

// regionText names a region (us, eu, ap) for the lab to translate.
func regionText(region string) engine.Text {
	switch region {
	case "us":
		return engine.Textf("cdn.region.us", "us")
	case "eu":
		return engine.Textf("cdn.region.eu", "eu")
	case "ap":
		return engine.Textf("cdn.region.ap", "ap")
	}
	return engine.Textf("cdn.region.other", "%s", region)
}
