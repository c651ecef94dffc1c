package session_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
	"scalelab/engine/session"
)

// rig is one web server with logins, and a store when the mode needs one.
type rig struct {
	sys  *engine.System
	auth *session.Auth
	node *session.Node
	st   *kv.KVNode
}

func newRig(t *testing.T, mode string, denylist bool) *rig {
	t.Helper()
	return makeRig(t, mode, "", denylist)
}

func newBenchRig(b *testing.B, mode, alg string) *rig { return makeRig(b, mode, alg, false) }

// accessOf is the access token in a login reply's body, or "".
func accessOf(body []byte) string {
	var lr session.LoginReply
	if json.Unmarshal(body, &lr) != nil {
		return ""
	}
	return lr.Access
}

func makeRig(t testing.TB, mode, alg string, denylist bool) *rig {
	t.Helper()
	sys := enginetest.System(t, 1)
	r := &rig{sys: sys}
	if mode != session.ModeMemory {
		st, err := kv.NewKVNode(sys, "store")
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.AddNode(st); err != nil {
			t.Fatal(err)
		}
		r.st = st
	}
	var err error
	r.auth, err = session.NewAuth(sys, session.AuthConfig{Mode: mode, Alg: alg, Store: r.st, AccessTTL: time.Minute, Denylist: denylist, Rotate: true})
	if err != nil {
		t.Fatal(err)
	}
	r.node, err = session.NewNode(sys, session.NodeConfig{Name: "web-1", Size: "large", Auth: r.auth})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(r.node); err != nil {
		t.Fatal(err)
	}
	return r
}

// browser is one user's client with a cookie jar.
type browser struct {
	t      *testing.T
	c      *http.Client
	base   string
	access string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}, base: base}
}

func (b *browser) do(method, path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, b.base+path, nil)
	if b.access != "" {
		req.Header.Set("Authorization", "Bearer "+b.access)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

// cookieNamed is the response's cookie of that name, or nil.
func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) login(user string) *http.Response {
	b.t.Helper()
	resp, body := b.do("POST", "/login?user="+user)
	if resp.StatusCode != 200 {
		b.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var lr session.LoginReply
		if err := json.Unmarshal([]byte(body), &lr); err != nil {
			b.t.Fatal(err)
		}
		b.access = lr.Access
	}
	return resp
}

func TestMemorySessionCookieAndKill(t *testing.T) {
	r := newRig(t, session.ModeMemory, false)
	b := newBrowser(t, r.node.URL())
	resp := b.login("u1")
	sid := cookieNamed(resp, session.CookieSession)
	if sid == nil || !sid.HttpOnly || sid.SameSite != http.SameSiteLaxMode || sid.Path != "/" {
		t.Fatalf("the session cookie should be HttpOnly, SameSite=Lax, Path=/: %+v", sid)
	}
	if resp, body := b.do("GET", "/page"); resp.StatusCode != 200 || !strings.Contains(body, "u1") {
		t.Fatalf("page with the session cookie: %d %s", resp.StatusCode, body)
	}
	if n := r.node.Sessions(); n != 1 {
		t.Errorf("%d sessions in memory, want 1", n)
	}
	// a guessed session id is refused
	g := newBrowser(t, r.node.URL())
	u, _ := url.Parse(r.node.URL())
	g.c.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieSession, Value: "0123456789abcdef0123456789abcdef"}})
	if resp, _ := g.do("GET", "/page"); resp.StatusCode != 401 || resp.Header.Get(session.HeaderAuth) != session.RefuseNoSession {
		t.Errorf("a guessed session id: %d %q", resp.StatusCode, resp.Header.Get(session.HeaderAuth))
	}
	// the process dies and its sessions with it
	if err := r.node.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := r.node.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "web-1 back up", 5*time.Second, func() bool { return r.node.State() == engine.StateUp })
	if resp, _ := b.do("GET", "/page"); resp.StatusCode != 401 {
		t.Errorf("after a restart the memory session should be gone: %d", resp.StatusCode)
	}
}

func TestSharedSessionLivesInTheStore(t *testing.T) {
	r := newRig(t, session.ModeShared, false)
	b := newBrowser(t, r.node.URL())
	b.login("u2")
	if resp, _ := b.do("GET", "/page"); resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	if n, _ := r.st.DBSize(context.Background()); n != 1 {
		t.Errorf("%d keys in the store, want the one session", n)
	}
	if r.node.Sessions() != 0 {
		t.Errorf("a shared session should not be kept in the server's memory")
	}
	if d, n := r.auth.StoreP50(); n < 2 || d <= 0 {
		t.Errorf("store round trips should be timed: p50 %v over %d", d, n)
	}
	b.do("POST", "/logout")
	if resp, _ := b.do("GET", "/page"); resp.StatusCode != 401 {
		t.Errorf("after logout the session should be gone: %d", resp.StatusCode)
	}
	// the store dies: requests that need it fail
	b.login("u2")
	if err := r.st.Kill(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.do("GET", "/page"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with the store down a page should fail with 503: %d", resp.StatusCode)
	}
}

func TestJWTLogoutDenylistAndRefresh(t *testing.T) {
	for _, deny := range []bool{false, true} {
		r := newRig(t, session.ModeJWT, deny)
		b := newBrowser(t, r.node.URL())
		resp := b.login("u3")
		rc := cookieNamed(resp, session.CookieRefresh)
		if rc == nil || !rc.HttpOnly || rc.Path != "/auth/" {
			t.Fatalf("the refresh token should be an HttpOnly cookie for /auth/ only: %+v", rc)
		}
		stolen := b.access
		if resp, _ := b.do("GET", "/page"); resp.StatusCode != 200 {
			t.Fatalf("page with the token: %d", resp.StatusCode)
		}
		// refresh with the cookie: a new token, the old refresh token revoked
		b.access = ""
		if resp, body := b.do("POST", "/auth/refresh"); resp.StatusCode != 200 || !strings.Contains(body, "access_token") {
			t.Fatalf("refresh: %d %s", resp.StatusCode, body)
		}
		a := newBrowser(t, r.node.URL())
		u, _ := url.Parse(r.node.URL() + "/auth/")
		a.c.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieRefresh, Value: rc.Value, Path: "/auth/"}})
		if resp, _ := a.do("POST", "/auth/refresh"); resp.StatusCode != 401 {
			t.Errorf("a rotated refresh token should be refused: %d", resp.StatusCode)
		}
		b.access = stolen
		b.do("POST", "/logout")
		thief := newBrowser(t, r.node.URL())
		thief.access = stolen
		resp, _ = thief.do("GET", "/page")
		if deny && resp.StatusCode != 401 {
			t.Errorf("with the denylist a logged-out token should be refused: %d", resp.StatusCode)
		}
		if !deny && resp.StatusCode != 200 {
			t.Errorf("without a denylist a logged-out token is valid until it expires: %d", resp.StatusCode)
		}
		ops := r.auth.Stats().StoreOps
		thief.do("GET", "/page")
		want := int64(0)
		if deny {
			want = 1
		}
		if got := r.auth.Stats().StoreOps - ops; got != want {
			t.Errorf("denylist %v: a page cost %d store round trips, want %d", deny, got, want)
		}
		snap := r.node.Snap()
		var lines []string
		for _, l := range snap.Lines {
			lines = append(lines, l.String())
		}
		joined := strings.Join(lines, "\n")
		if !strings.Contains(joined, `"alg":"HS256"`) || !strings.Contains(joined, `"sub":"u3"`) {
			t.Errorf("the inspector should show the last token's header and payload:\n%s", joined)
		}
	}
}
