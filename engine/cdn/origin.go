// The origin: versioned static files, deploys and the Cache-Control it
// serves.

package cdn

import (
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
	o.events.Add(EvDeploy, o.Name(), engine.Textf("cdn.deployed", "release %d: %s", n, strings.Join(names, ", ")))
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
	s.Detail = engine.Textf("cdn.origin.detail", "origin · release %d", o.releases.Load())
	staleIfError := engine.Textf("cdn.off", "false")
	if o.staleIfError.Load() {
		staleIfError = engine.Textf("cdn.on", "true")
	}
	s.Lines = []engine.Line{
		{Label: engine.Textf("cdn.release", "release"), Value: engine.Textf("cdn.release.value", "%d", o.releases.Load())},
		{Label: engine.Textf("cdn.edge_ttl", "edge TTL (s-maxage)"), Value: engine.Textf("cdn.edge_ttl.value", "%s", o.TTL())},
		{Label: engine.Textf("cdn.stale_if_error", "stale-if-error"), Value: staleIfError},
		{Label: engine.Textf("cdn.requests_from_users", "requests from users"),
			Value: engine.Textf("cdn.requests_from_users.value", "%d · from edges: %d", st.UserRequests, st.EdgeRequests)},
	}
	return s
}
