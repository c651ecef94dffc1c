package cdn

import (
	"context"
	"io"
	"net/http"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want CacheControl
	}{
		{"public, max-age=60", CacheControl{TTL: time.Minute}},
		{"public, max-age=60, s-maxage=600", CacheControl{TTL: 10 * time.Minute}},
		{"s-maxage=0, max-age=60", CacheControl{}},
		{"max-age=31536000, immutable, stale-if-error=600", CacheControl{TTL: 31536000 * time.Second, StaleIfError: 10 * time.Minute}},
		{"private, max-age=60", CacheControl{TTL: time.Minute, NoStore: true}},
		{"no-store", CacheControl{NoStore: true}},
		{"", CacheControl{}},
		{"max-age=abc", CacheControl{}},
	} {
		if got := ParseCacheControl(tc.in); got != tc.want {
			t.Errorf("ParseCacheControl(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

type cdnRig struct {
	sys    *engine.System
	origin *Origin
	edge   *Edge
	c      *http.Client
}

func newCDNRig(t *testing.T, ttl, work time.Duration) *cdnRig {
	t.Helper()
	sys := enginetest.System(t, 4)
	o, err := NewOrigin(sys, OriginConfig{Name: "origin", Size: "large", Work: work, TTL: ttl, Files: []StaticFile{
		{Name: "app.css", Type: "text/css", Body: []byte("body{color:black}"), Text: true},
		{Name: "logo.png", Type: "image/png", Body: []byte("\x89PNG fake but bytes"), Text: false},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(o); err != nil {
		t.Fatal(err)
	}
	e, err := NewEdge(sys, EdgeConfig{Name: "edge-eu", Region: "eu", Size: "large", Origin: o, Link: sys.AddLink("edge-eu", "origin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(e); err != nil {
		t.Fatal(err)
	}
	sys.Start()
	return &cdnRig{sys: sys, origin: o, edge: e, c: enginetest.Client()}
}

// get fetches a path and returns the status, the X-Cache and version
// headers and the body.
func (r *cdnRig) get(t *testing.T, base, path string) (code int, how string, version int, body string) {
	t.Helper()
	resp, err := r.c.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, _ := strconv.Atoi(resp.Header.Get(HeaderVersion))
	return resp.StatusCode, resp.Header.Get(HeaderCache), v, string(b)
}

func TestEdgeCachesForTheTTL(t *testing.T) {
	r := newCDNRig(t, time.Second, 0)
	edge := r.edge.URL()
	if code, how, _, body := r.get(t, edge, "/static/app.css"); code != 200 || how != "MISS" || body != "body{color:black}" {
		t.Fatalf("first GET: %d %s %q", code, how, body)
	}
	if _, how, _, _ := r.get(t, edge, "/static/app.css"); how != "HIT" {
		t.Fatalf("second GET: %s, want HIT", how)
	}
	if st := r.origin.Stats(); st.EdgeRequests != 1 || st.UserRequests != 0 {
		t.Fatalf("origin stats %+v after a miss and a hit", st)
	}
	_ = r.sys.Clock.Sleep(context.Background(), 1100*time.Millisecond)
	if _, how, _, _ := r.get(t, edge, "/static/app.css"); how != "MISS" {
		t.Fatalf("GET after the TTL: %s, want MISS", how)
	}
	if code, _, _, _ := r.get(t, edge, "/static/nope.css"); code != 404 {
		t.Fatalf("missing file: %d", code)
	}
	if st := r.edge.Stats(); st.Hits != 1 || st.Misses != 3 || st.Fills != 2 || st.HitRatio() != 0.25 {
		t.Errorf("edge stats %+v", st)
	}
}

// Concurrent misses of one file make one origin request.
func TestEdgeCollapsesMisses(t *testing.T) {
	r := newCDNRig(t, time.Minute, 200*time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.c.Get(r.edge.URL() + "/static/logo.png")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("GET: %v %v", err, resp)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if st := r.origin.Stats(); st.EdgeRequests != 1 {
		t.Errorf("20 concurrent misses made %d origin requests, want 1", st.EdgeRequests)
	}
	// the edge has 8 workers: the first requests wait on one fill, the
	// rest find the copy
	if st := r.edge.Stats(); st.Fills != 1 || st.Collapsed < 2 || st.Collapsed+st.Hits < 19 {
		t.Errorf("20 concurrent requests: %+v", st)
	}
}

// After a deploy, an edge serves its old copy of a plain URL until the TTL
// or a purge; a versioned URL is new at once.
func TestDeployPurgeAndVersionedURLs(t *testing.T) {
	r := newCDNRig(t, time.Minute, 0)
	edge := r.edge.URL()
	r.get(t, edge, "/static/app.css")
	if n := r.origin.Deploy(); n != 2 {
		t.Fatalf("deploy made release %d", n)
	}
	if _, how, v, _ := r.get(t, edge, "/static/app.css"); v != 1 || how != "HIT" {
		t.Fatalf("after the deploy the edge served v%d (%s); it should still hold v1", v, how)
	}
	if _, _, v, body := r.get(t, r.origin.URL(), "/static/app.css"); v != 2 || !strings.Contains(body, "release 2") {
		t.Fatalf("origin serves v%d %q", v, body)
	}
	n, vpath := r.origin.Current("app.css", true)
	if code, how, v, _ := r.get(t, edge, vpath); code != 200 || v != n || how != "MISS" {
		t.Fatalf("versioned %s: %d v%d %s", vpath, code, v, how)
	}
	if _, p := r.origin.Current("logo.png", false); p != "/static/logo.png" {
		t.Fatalf("plain path %s", p)
	}
	req, _ := http.NewRequest("PURGE", edge+"/*", nil)
	resp, err := r.c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("purge: %v", err)
	}
	resp.Body.Close()
	if _, how, v, _ := r.get(t, edge, "/static/app.css"); v != 2 || how != "MISS" {
		t.Fatalf("after the purge: v%d %s", v, how)
	}
	if !enginetest.HasEvent(r.sys, EvDeploy, "origin") {
		t.Error("no deploy event")
	}
}

// With stale-if-error, an edge serves its expired copy while the origin is
// down; without, it fails.
func TestStaleIfError(t *testing.T) {
	for _, on := range []bool{true, false} {
		r := newCDNRig(t, time.Second, 0)
		r.origin.SetStaleIfError(on)
		r.get(t, r.edge.URL(), "/static/app.css")
		if err := r.origin.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = r.sys.Clock.Sleep(context.Background(), 1100*time.Millisecond)
		code, how, _, _ := r.get(t, r.edge.URL(), "/static/app.css")
		switch {
		case on && (code != 200 || how != "STALE"):
			t.Errorf("stale-if-error on, origin down: %d %s", code, how)
		case !on && code != http.StatusBadGateway:
			t.Errorf("stale-if-error off, origin down: %d %s", code, how)
		}
	}
}

// A killed edge loses its cache; browsers fall back to the origin when
// told to, and fail otherwise.
func TestBrowsersFallBackToTheOrigin(t *testing.T) {
	r := newCDNRig(t, time.Minute, 0)
	regions := []Region{{Name: "eu", Share: 1, ToEdge: 5 * time.Millisecond, ToOrigin: 80 * time.Millisecond}}
	b := NewBrowsers(r.sys.Clock, r.origin, []*Edge{r.edge}, regions, []FileShare{{"app.css", 1}})
	ctx := context.Background()
	c := enginetest.Client()
	if reason, route := b.Fetch(ctx, c, engine.OpAsset, 0, 1); reason != "" || route != "cdn" {
		t.Fatalf("fetch through the edge: %q %s", reason, route)
	}
	if err := r.edge.Kill(); err != nil {
		t.Fatal(err)
	}
	if st := r.edge.Stats(); st.Objects != 0 {
		t.Errorf("a killed edge still holds %d files", st.Objects)
	}
	if reason, route := b.Fetch(ctx, c, engine.OpAsset, 0, 1); reason != "" || route != "fallback" || b.fallbacks.Load() != 1 {
		t.Fatalf("fetch with the edge dead: %q %s, %d fallbacks", reason, route, b.fallbacks.Load())
	}
	b.SetFallback(false)
	if reason, _ := b.Fetch(ctx, c, engine.OpAsset, 0, 1); reason != engine.ReasonRefused {
		t.Fatalf("fetch with the edge dead and no fallback: %q, want refused", reason)
	}
	b.SetCDN(false)
	if reason, route := b.Fetch(ctx, c, engine.OpAsset, 0, 1); reason != "" || route != "origin" {
		t.Fatalf("fetch straight from the origin: %q %s", reason, route)
	}
	// a deploy with a plain URL cached nowhere: the origin is never stale
	r.origin.Deploy()
	if n, _ := b.Stale(); n != 0 {
		t.Errorf("%d stale responses from the origin", n)
	}
}

func TestBrowsersRegionShares(t *testing.T) {
	b := NewBrowsers(engine.NewClock(), nil, nil, []Region{{Name: "us", Share: 40}, {Name: "eu", Share: 35}, {Name: "ap", Share: 25}}, []FileShare{{"a", 1}})
	got := map[string]int{}
	for u := 0; u < 1000; u++ {
		got[b.RegionOf(u).Name]++
	}
	for name, want := range map[string]int{"us": 400, "eu": 350, "ap": 250} {
		if d := got[name] - want; d < -60 || d > 60 {
			t.Errorf("region %s has %d of 1000 users, want about %d", name, got[name], want)
		}
	}
}
