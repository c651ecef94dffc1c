// Tests of the sticky-cookie policy: the SERVERID cookie the load balancer
// inserts, strips before forwarding and honours, redispatch, new targets
// and draining.

package lb

import (
	"fmt"
	"io"
	"net/http"
	"scalelab/engine"
	"strings"
	"sync"
	"testing"
	"time"
)

// stickyLab is a load balancer under sticky-cookie in front of web servers
// that set their own "sid" cookie and record the Cookie header they get.
type stickyLab struct {
	*lab
	mu      sync.Mutex
	cookies map[string][]string // Cookie header of each /x request, by server
	entered chan string         // a /slow request reached this server
	release chan struct{}       // closed: /slow requests answer
}

func newStickyLab(t *testing.T, cfg LBConfig, n int) *stickyLab {
	t.Helper()
	cfg.Policy = PolicySticky
	l := &stickyLab{lab: newLab(t, cfg), cookies: map[string][]string{}, entered: make(chan string, 16), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-l.release:
		default:
			close(l.release)
		}
	})
	for range n {
		l.addWeb(t)
	}
	return l
}

// addWeb starts web-N and adds it to the target group.
func (l *stickyLab) addWeb(t *testing.T) *engine.Server {
	t.Helper()
	name := fmt.Sprintf("web-%d", len(l.webs)+1)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.cookies[name] = append(l.cookies[name], r.Header.Get("Cookie"))
		l.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s-" + name, Path: "/"})
		_, _ = io.WriteString(w, name)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		l.entered <- name
		select {
		case <-l.release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, name)
	})
	srv := engine.NewServer(engine.ServerConfig{Name: name, Role: roleWeb, Private: l.sys.Token, Boot: 100 * time.Millisecond},
		l.sys.Clock, l.sys.Events, mux)
	if err := l.sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	l.lb.AddTarget(srv, l.sys.AddLink(l.lb.Name(), srv.Name()))
	l.webs = append(l.webs, srv)
	return srv
}

// answer is what a client got back through the load balancer.
type answer struct {
	code   int
	server string // the body: the name of the server that answered
	pin    string // the SERVERID the answer sets, "" for none
	cookie []string
	cache  string // Cache-Control
}

// send sends a GET of path with the Cookie header cookie ("" for none).
func (l *stickyLab) send(t *testing.T, path, cookie string) answer {
	t.Helper()
	a, err := l.do(path, cookie)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do is send for any goroutine.
func (l *stickyLab) do(path, cookie string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, l.lb.URL()+path, nil)
	if err != nil {
		return answer{}, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s: %w", path, err)
	}
	a := answer{code: resp.StatusCode, server: string(body), cookie: resp.Header.Values("Set-Cookie"), cache: resp.Header.Get("Cache-Control")}
	for _, c := range resp.Cookies() {
		if c.Name == StickyCookie {
			if a.pin != "" {
				return a, fmt.Errorf("two SERVERID cookies: %q", a.cookie)
			}
			a.pin = c.Value
		}
	}
	return a, nil
}

// seen returns the Cookie headers server got on /x so far.
func (l *stickyLab) seen(server string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.cookies[server]...)
}

// quiet is a config without health-check traffic or retries, so a test
// sees each request's own path.
func quiet() LBConfig {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Interval = time.Hour
	cfg.Retries = 0
	return cfg
}

func TestStickySelect(t *testing.T) {
	pinned := func(name string) func(int) *http.Request {
		return func(int) *http.Request {
			r := plainReq()
			r.AddCookie(&http.Cookie{Name: "sid", Value: "abc"})
			r.AddCookie(&http.Cookie{Name: StickyCookie, Value: name})
			return r
		}
	}
	p := mustPolicy(t, PolicySticky)
	ts := mkTargets(9, 0, 0)
	// The named target, whatever its load.
	if got := picks(p, ts, 100, pinned("t0")); got["t0"] != 100 {
		t.Errorf("cookie t0: %v", got)
	}
	// No cookie, a cookie of another name, an empty one or one naming no
	// target in the list: round robin.
	for _, req := range []func(int) *http.Request{
		func(int) *http.Request { return plainReq() },
		func(int) *http.Request { return cookieReq("t1") },
		pinned(""),
		pinned("t9"),
	} {
		if got := picks(p, ts, 300, req); got["t0"] != 100 || got["t1"] != 100 || got["t2"] != 100 {
			t.Errorf("want round robin, got %v", got)
		}
	}
	// The named target gone from the list (dead, ejected, draining):
	// redispatched among the others.
	if got := picks(p, []*target{ts[0], ts[2]}, 100, pinned("t1")); got["t0"] != 50 || got["t2"] != 50 {
		t.Errorf("cookie t1, t1 not eligible: %v", got)
	}
	if got := p.Select(nil, pinned("t1")(0)); got != nil {
		t.Errorf("picked %s from no targets", got.name)
	}
	if PolicyNames()[len(PolicyNames())-1] != PolicySticky {
		t.Errorf("sticky-cookie is not last in %v", PolicyNames())
	}
}

func TestStickyCookieHeaders(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SERVERID=web-1", ""},
		{"sid=abc; SERVERID=web-1; refresh=r1", "sid=abc; refresh=r1"},
		{"SERVERID=web-1;sid=abc", "sid=abc"},
		{"sid=abc", "sid=abc"},
		{"MYSERVERID=x; sid=abc", "MYSERVERID=x; sid=abc"},
	}
	for _, tc := range tests {
		h := http.Header{"Cookie": {tc.in}}
		removeCookie(h, StickyCookie)
		if got := strings.Join(h["Cookie"], " | "); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
		if _, ok := h["Cookie"]; ok != (tc.want != "") {
			t.Errorf("%q: Cookie header present %v", tc.in, ok)
		}
	}
	h := http.Header{"Cookie": {"SERVERID=web-1", "sid=abc"}}
	removeCookie(h, StickyCookie)
	if got := h["Cookie"]; len(got) != 1 || got[0] != "sid=abc" {
		t.Errorf("two Cookie lines: %q", got)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "private"},
		{"public, max-age=60", "public, max-age=60, private"},
		{"private, max-age=60", "private, max-age=60"},
		{"No-Store", "No-Store"},
	} {
		h := http.Header{}
		if tc.in != "" {
			h.Set("Cache-Control", tc.in)
		}
		markPrivate(h)
		if got := h.Get("Cache-Control"); got != tc.want {
			t.Errorf("Cache-Control %q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestStickyPins: the first answer pins the user to the server that gave
// it, next to the server's own cookie; the user then stays there, and the
// server never sees SERVERID.
func TestStickyPins(t *testing.T) {
	l := newStickyLab(t, quiet(), 3)
	first := l.send(t, "/x", "")
	if first.code != http.StatusOK || first.pin != first.server {
		t.Fatalf("first answer: %+v", first)
	}
	want := []string{"sid=s-" + first.server + "; Path=/", "SERVERID=" + first.server + "; Path=/; HttpOnly; SameSite=Lax"}
	if strings.Join(first.cookie, "\n") != strings.Join(want, "\n") {
		t.Errorf("Set-Cookie %q, want %q", first.cookie, want)
	}
	if first.cache != "private" {
		t.Errorf("Cache-Control %q, want private", first.cache)
	}
	for i := range 20 {
		cookie := "sid=s-" + first.server + "; " + StickyCookie + "=" + first.pin + fmt.Sprintf("; refresh=r%d", i)
		a := l.send(t, "/x", cookie)
		if a.code != http.StatusOK || a.server != first.server || a.pin != "" || a.cache != "" {
			t.Fatalf("request %d with the cookie: %+v", i, a)
		}
		if len(a.cookie) != 1 || !strings.HasPrefix(a.cookie[0], "sid=") {
			t.Errorf("the server's own cookie: %q", a.cookie)
		}
	}
	got := l.seen(first.server)
	if len(got) != 21 || got[0] != "" {
		t.Fatalf("%s saw %d requests: %q", first.server, len(got), got)
	}
	for i, c := range got[1:] {
		if want := fmt.Sprintf("sid=s-%s; refresh=r%d", first.server, i); c != want {
			t.Errorf("%s got Cookie %q, want %q", first.server, c, want)
		}
	}
	for _, w := range l.webs {
		if w.Name() != first.server && len(l.seen(w.Name())) != 0 {
			t.Errorf("%s got requests of the pinned user", w.Name())
		}
	}
	// Under another policy the load balancer neither sets nor strips it.
	if err := l.lb.SetPolicy(PolicyRoundRobin); err != nil {
		t.Fatal(err)
	}
	a := l.send(t, "/x", "SERVERID=web-1; sid=abc")
	if a.pin != "" || len(a.cookie) != 1 {
		t.Errorf("round robin set %q", a.cookie)
	}
	if got := l.seen(a.server); got[len(got)-1] != "SERVERID=web-1; sid=abc" {
		t.Errorf("round robin forwarded Cookie %q", got[len(got)-1])
	}
}

// TestStickyRedispatch: a user pinned to a server that died, was ejected
// or left goes to another, and the answer pins it there.
func TestStickyRedispatch(t *testing.T) {
	cfg := quiet()
	cfg.Retries = 1
	l := newStickyLab(t, cfg, 3)
	pin := func(name string) string { return "sid=abc; SERVERID=" + name }

	// Killed, not yet detected: the connection is refused, the retry goes
	// elsewhere and re-pins.
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	a := l.send(t, "/x", pin("web-1"))
	if a.code != http.StatusOK || a.server == "web-1" || a.pin != a.server {
		t.Fatalf("after the kill: %+v", a)
	}
	if b := l.send(t, "/x", pin(a.pin)); b.server != a.server || b.pin != "" {
		t.Errorf("with the new cookie: %+v", b)
	}
	if got := l.seen(a.server); got[0] != "sid=abc" {
		t.Errorf("redispatched request carried Cookie %q", got[0])
	}

	// Ejected (health): redispatched without trying it.
	l.lb.mu.Lock()
	l.lb.ejectLocked(l.lb.findLocked("web-2"), engine.Textf("test.eject", "test"))
	l.lb.mu.Unlock()
	before := l.lb.findTarget("web-2").requests.Load()
	for range 10 {
		a := l.send(t, "/x", pin("web-2"))
		if a.code != http.StatusOK || a.server != "web-3" && a.server != "web-1" || a.pin != a.server {
			t.Fatalf("web-2 ejected: %+v", a)
		}
	}
	if n := l.lb.findTarget("web-2").requests.Load(); n != before {
		t.Errorf("ejected web-2 was sent %d requests", n-before)
	}

	// Removed: the same.
	if err := l.lb.RemoveTarget("web-3"); err != nil {
		t.Fatal(err)
	}
	l.lb.SetHealthChecks(false)
	for range 4 {
		if a := l.send(t, "/x", pin("web-3")); a.server == "web-3" || a.pin != a.server {
			t.Fatalf("web-3 removed: %+v", a)
		}
	}
}

// TestStickyNewTarget: a server added later takes no pinned user, and its
// share of the new ones.
func TestStickyNewTarget(t *testing.T) {
	l := newStickyLab(t, quiet(), 2)
	var pins []string
	for range 10 {
		a := l.send(t, "/x", "")
		if a.pin == "" || a.pin != a.server {
			t.Fatalf("new user: %+v", a)
		}
		pins = append(pins, a.pin)
	}
	l.addWeb(t)
	for round := range 5 {
		for i, p := range pins {
			if a := l.send(t, "/x", "SERVERID="+p); a.server != p || a.pin != "" {
				t.Fatalf("round %d user %d pinned to %s: %+v", round, i, p, a)
			}
		}
	}
	if n := len(l.seen("web-3")); n != 0 {
		t.Fatalf("web-3 got %d requests of pinned users", n)
	}
	got := map[string]int{}
	for range 30 {
		a := l.send(t, "/x", "")
		if a.pin != a.server {
			t.Fatalf("new user: %+v", a)
		}
		got[a.server]++
	}
	if got["web-1"] != 10 || got["web-2"] != 10 || got["web-3"] != 10 {
		t.Errorf("new users not round robin: %v", got)
	}
}

// TestStickyDrain: a draining server keeps its pinned users and takes no
// new ones; when its last request ends it leaves, and they move.
func TestStickyDrain(t *testing.T) {
	l := newStickyLab(t, quiet(), 3)
	// web-2's user has a request in flight, so the drain waits.
	slow := make(chan answer, 1)
	go func() {
		a, err := l.do("/slow", "SERVERID=web-2")
		if err != nil {
			a.server = err.Error()
		}
		slow <- a
	}()
	if got := <-l.entered; got != "web-2" {
		t.Fatalf("slow request went to %s", got)
	}
	drained := make(chan struct{})
	if err := l.lb.Drain("web-2", func() { close(drained) }); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if a := l.send(t, "/x", "sid=abc; SERVERID=web-2"); a.code != http.StatusOK || a.server != "web-2" || a.pin != "" {
			t.Fatalf("pinned user of draining web-2: %+v", a)
		}
	}
	for range 20 {
		a := l.send(t, "/x", "")
		if a.server == "web-2" || a.pin != a.server {
			t.Fatalf("new user: %+v", a)
		}
	}
	if d := l.lb.Snap().Detail.String(); !strings.HasPrefix(d, "sticky-cookie · ") || !strings.Contains(d, "1 draining") {
		t.Errorf("detail %q", d)
	}
	// Ejected while draining: the pinned users move.
	l.lb.mu.Lock()
	l.lb.ejectLocked(l.lb.findLocked("web-2"), engine.Textf("test.eject", "test"))
	l.lb.mu.Unlock()
	if a := l.send(t, "/x", "SERVERID=web-2"); a.server == "web-2" || a.pin != a.server {
		t.Fatalf("pinned user of ejected draining web-2: %+v", a)
	}
	l.lb.SetHealthChecks(false) // back in service
	if a := l.send(t, "/x", "SERVERID=web-2"); a.server != "web-2" {
		t.Fatalf("pinned user of draining web-2, health off: %+v", a)
	}
	select {
	case <-drained:
		t.Fatal("drained with a request in flight")
	default:
	}
	close(l.release)
	if a := <-slow; a.code != http.StatusOK || a.server != "web-2" || a.pin != "" {
		t.Errorf("slow request: %+v", a)
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("web-2 did not leave after its last request")
	}
	if a := l.send(t, "/x", "SERVERID=web-2"); a.server == "web-2" || a.pin != a.server {
		t.Errorf("pinned user of drained web-2: %+v", a)
	}
}

// TestStickyDrainRace: pinned users hammer a server while it drains and is
// killed the moment it leaves: none of their requests is sent to it after
// it left (no retries hide one).
func TestStickyDrainRace(t *testing.T) {
	for range 5 {
		l := newStickyLab(t, quiet(), 2)
		var wg sync.WaitGroup
		var failMu sync.Mutex
		var fails []string
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 50 {
					if a, err := l.do("/x", "SERVERID=web-2"); err != nil || a.code != http.StatusOK {
						failMu.Lock()
						fails = append(fails, fmt.Sprint(a, err))
						failMu.Unlock()
					}
				}
			}()
		}
		close(start)
		waitFor(t, "web-2 serving its users", 10*time.Second, func() bool { return len(l.seen("web-2")) >= 20 })
		drained := make(chan struct{})
		web2 := l.lb.findTarget("web-2")
		var inFlight int64
		if err := l.lb.Drain("web-2", func() {
			inFlight = web2.active.Load()
			_ = l.webs[1].Kill()
			close(drained)
		}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if len(fails) != 0 {
			t.Fatalf("%d requests failed, first: %s", len(fails), fails[0])
		}
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			t.Fatal("web-2 never drained")
		}
		if inFlight != 0 {
			t.Fatalf("web-2 left with %d requests in flight", inFlight)
		}
	}
}
