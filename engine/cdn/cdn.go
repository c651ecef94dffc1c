package cdn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"scalelab/engine"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Roles of a CDN.
const (
	RoleOrigin engine.Role = "origin" // the server that holds the static files
	RoleEdge   engine.Role = "edge"   // a CDN edge (point of presence) near users
)

// Action and event kinds of a CDN.
const (
	// ActDeploy puts a new version of the static files on the origin.
	ActDeploy engine.Kind = "deploy"
	// ActPurge asks every CDN edge to drop its copies.
	ActPurge engine.Kind = "purge"

	EvDeploy engine.EventKind = "deploy"
	EvPurge  engine.EventKind = "purge"
)

// Headers between the lab's browsers, edges and origin.
const (
	HeaderVersion = "X-Asset-Version" // the release a file belongs to
	HeaderCache   = "X-Cache"         // HIT, MISS or STALE, from an edge
	headerEdge    = "X-Scalelab-Edge" // an edge filling its cache
)

// StaticFile is one file the origin serves.
type StaticFile struct {
	Name string
	Type string
	Body []byte
	// Text files get a new release on a deploy; others never change.
	Text bool
}

// fileVersion is one release of a file: its bytes and its versioned path,
// which carries a hash of the content (app.3f2a9c1e.css).
type fileVersion struct {
	file *originFile
	n    int
	body []byte
	etag string
	path string
}

type originFile struct {
	name, typ string
	text      bool
	versions  []*fileVersion
}

// OriginConfig describes the origin server.
type OriginConfig struct {
	Name  string
	Size  string
	Work  time.Duration // modelled work per request
	Files []StaticFile
	// TTL is the s-maxage sent with plain URLs: how long edges keep a copy.
	TTL time.Duration
}

// Origin serves the static files with real Cache-Control headers. Plain
// URLs (/static/app.css) always answer the newest release and may be cached
// for the TTL; versioned URLs (/static/app.3f2a9c1e.css) name one release
// and may be cached for a year. A deploy makes a new release of the text
// files.
type Origin struct {
	*engine.Server
	*engine.Sized
	work time.Duration

	ttl          atomic.Int64
	staleIfError atomic.Bool

	mu     sync.RWMutex
	files  map[string]*originFile
	byPath map[string]*fileVersion // versioned paths

	toUsers, toEdges       atomic.Int64 // bytes sent
	userReqs, edgeReqs     atomic.Int64
	releases               atomic.Int64
	events                 *engine.EventLog
	staleIfErrorSeconds    int
	maxAgePlain, maxAgeVer int
}

// NewOrigin makes the origin server (sys.AddNode starts it).
func NewOrigin(sys *engine.System, cfg OriginConfig) (*Origin, error) {
	if len(cfg.Files) == 0 {
		return nil, errors.New("origin has no files")
	}
	o := &Origin{work: cfg.Work, files: map[string]*originFile{}, byPath: map[string]*fileVersion{}, events: sys.Events,
		staleIfErrorSeconds: 600, maxAgePlain: 60, maxAgeVer: 31536000}
	o.ttl.Store(int64(cfg.TTL))
	for _, f := range cfg.Files {
		of := &originFile{name: f.Name, typ: f.Type, text: f.Text}
		o.files[f.Name] = of
		o.addVersion(of, f.Body)
	}
	o.releases.Store(1)
	var err error
	o.Server, o.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: RoleOrigin}, cfg.Size, o.handle)
	return o, err
}

func (o *Origin) addVersion(of *originFile, body []byte) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])[:8]
	ext := path.Ext(of.name)
	v := &fileVersion{file: of, n: len(of.versions) + 1, body: body, etag: `"` + h + `"`, path: "/static/" + strings.TrimSuffix(of.name, ext) + "." + h + ext}
	of.versions = append(of.versions, v)
	o.byPath[v.path] = v
}

// SetTTL changes the s-maxage sent with plain URLs from now on.
func (o *Origin) SetTTL(d time.Duration) { o.ttl.Store(int64(d)) }

// TTL is the s-maxage in force.
func (o *Origin) TTL() time.Duration { return time.Duration(o.ttl.Load()) }

// SetStaleIfError makes responses carry stale-if-error, letting edges
// serve an expired copy while the origin fails.
func (o *Origin) SetStaleIfError(on bool) { o.staleIfError.Store(on) }

// Deploy makes a new release of every text file and returns its number.
func (o *Origin) Deploy() int {
	o.mu.Lock()
	n := int(o.releases.Add(1))
	var names []string
	for _, name := range o.names() {
		of := o.files[name]
		if !of.text {
			continue
		}
		base := of.versions[0].body
		body := append(append([]byte{}, base...), fmt.Sprintf("\n/* release %d */\n", n)...)
		o.addVersion(of, body)
		names = append(names, name)
	}
	o.mu.Unlock()
	o.events.Add(EvDeploy, o.Name(), "release %d: %s", n, strings.Join(names, ", "))
	return n
}

func (o *Origin) names() []string {
	var out []string
	for n := range o.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Current returns a file's newest version number and its path: versioned
// or plain.
func (o *Origin) Current(name string, versioned bool) (int, string) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	of := o.files[name]
	if of == nil {
		return 0, "/static/" + name
	}
	v := of.versions[len(of.versions)-1]
	if versioned {
		return v.n, v.path
	}
	return v.n, "/static/" + name
}

// lookup finds what a path serves and whether it is a versioned URL.
func (o *Origin) lookup(p string) (*fileVersion, *originFile, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if v := o.byPath[p]; v != nil {
		return v, v.file, true
	}
	if of := o.files[strings.TrimPrefix(p, "/static/")]; of != nil {
		return of.versions[len(of.versions)-1], of, false
	}
	return nil, nil, false
}

func (o *Origin) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		io.WriteString(w, "ok")
		return
	}
	v, of, versioned := o.lookup(r.URL.Path)
	if v == nil {
		http.NotFound(w, r)
		return
	}
	release, err := o.Hold(r.Context())
	if err != nil {
		o.Overloaded(w)
		return
	}
	defer release()
	if o.Work(r.Context(), o.work) != nil {
		return
	}
	cc := fmt.Sprintf("public, max-age=%d, s-maxage=%d", o.maxAgePlain, int(o.TTL()/time.Second))
	if versioned {
		cc = fmt.Sprintf("public, max-age=%d, immutable", o.maxAgeVer)
	}
	if o.staleIfError.Load() {
		cc += fmt.Sprintf(", stale-if-error=%d", o.staleIfErrorSeconds)
	}
	h := w.Header()
	h.Set("Content-Type", of.typ)
	h.Set("Content-Length", strconv.Itoa(len(v.body)))
	h.Set("Cache-Control", cc)
	h.Set("ETag", v.etag)
	h.Set(HeaderVersion, strconv.Itoa(v.n))
	w.Write(v.body)
	if r.Header.Get(headerEdge) != "" {
		o.edgeReqs.Add(1)
		o.toEdges.Add(int64(len(v.body)))
	} else {
		o.userReqs.Add(1)
		o.toUsers.Add(int64(len(v.body)))
	}
}

// OriginStats are the origin's counts: requests and bytes to users
// directly and to edges filling their caches.
type OriginStats struct {
	UserRequests, EdgeRequests int64
	BytesToUsers, BytesToEdges int64
}

// Stats returns the counts so far.
func (o *Origin) Stats() OriginStats {
	return OriginStats{UserRequests: o.userReqs.Load(), EdgeRequests: o.edgeReqs.Load(), BytesToUsers: o.toUsers.Load(), BytesToEdges: o.toEdges.Load()}
}

// Snap adds size, cost and the release.
func (o *Origin) Snap() engine.NodeSnap {
	s := o.Server.Snap()
	o.Sized.Fill(&s)
	st := o.Stats()
	s.Detail = fmt.Sprintf("origin · release %d", o.releases.Load())
	s.Lines = []string{
		fmt.Sprintf("release: %d", o.releases.Load()),
		fmt.Sprintf("edge TTL (s-maxage): %s", o.TTL()),
		fmt.Sprintf("stale-if-error: %v", o.staleIfError.Load()),
		fmt.Sprintf("requests from users: %d · from edges: %d", st.UserRequests, st.EdgeRequests),
	}
	return s
}

// CacheControl is what a shared cache reads from Cache-Control.
type CacheControl struct {
	TTL          time.Duration // s-maxage, else max-age
	StaleIfError time.Duration
	NoStore      bool // no-store or private: a shared cache must not keep it
}

// ParseCacheControl reads a Cache-Control header as a shared cache (a CDN)
// does: s-maxage wins over max-age; private and no-store forbid storing.
func ParseCacheControl(h string) CacheControl {
	var cc CacheControl
	maxAge, sMaxAge := -1, -1
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		n, err := strconv.Atoi(strings.Trim(v, `"`))
		switch {
		case k == "no-store" || k == "private" || k == "no-cache":
			cc.NoStore = true
		case k == "max-age" && err == nil:
			maxAge = n
		case k == "s-maxage" && err == nil:
			sMaxAge = n
		case k == "stale-if-error" && err == nil:
			cc.StaleIfError = time.Duration(n) * time.Second
		}
	}
	switch {
	case sMaxAge >= 0:
		cc.TTL = time.Duration(sMaxAge) * time.Second
	case maxAge >= 0:
		cc.TTL = time.Duration(maxAge) * time.Second
	}
	return cc
}

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
	s.Detail = fmt.Sprintf("edge %s · %d files", e.cfg.Region, st.Objects)
	s.Lines = []string{
		fmt.Sprintf("region: %s", e.cfg.Region),
		fmt.Sprintf("hit ratio: %.1f%% (%d hits, %d misses)", 100*st.HitRatio(), st.Hits, st.Misses),
		fmt.Sprintf("origin fills: %d · collapsed misses: %d", st.Fills, st.Collapsed),
		fmt.Sprintf("stale-if-error served: %d · purged: %d", st.Stale, st.Purged),
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
		s.Lines = append(s.Lines, fmt.Sprintf("  %s v%s · ttl left %.0fs", p, ent.header.Get(HeaderVersion), max(left, 0).Seconds()))
	}
	e.mu.Unlock()
	return s
}
