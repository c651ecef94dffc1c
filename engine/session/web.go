// A web server that logs users in: sessions in its own memory or in the
// shared store, or JWTs any server can verify.

package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
	"scalelab/engine/web"
)

// Cookie names.
const (
	CookieSession = "sid"     // a session id (memory and shared modes)
	CookieRefresh = "refresh" // a refresh token, sent only to /auth/
)

// NodeConfig describes a web server that logs users in.
type NodeConfig struct {
	Name string
	Size string
	// Work is the modelled web work of one request.
	Work time.Duration
	// Private servers refuse requests that did not come through the LB.
	Private bool
	Auth    *Auth
}

// Node is a web server with logins. In memory mode its sessions live in
// its own memory and die with it.
type Node struct {
	*engine.Server
	*engine.Sized
	cfg NodeConfig

	mu        sync.Mutex
	sessions  map[string]memSession
	lastToken string // the last access token it issued, for the inspector
	served    int64
}

type memSession struct {
	user    string
	expires time.Duration
}

// NewNode makes a web server with logins (sys.AddNode starts it).
func NewNode(sys *engine.System, cfg NodeConfig) (*Node, error) {
	n := &Node{cfg: cfg, sessions: map[string]memSession{}}
	token := ""
	if cfg.Private {
		token = sys.Token
	}
	var err error
	n.Server, n.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: web.RoleWeb, Layer: engine.LayerWeb, Private: token, OnKill: n.forget}, cfg.Size, n.handle)
	return n, err
}

// forget drops the sessions in memory: the process that held them died.
func (n *Node) forget() {
	n.mu.Lock()
	clear(n.sessions)
	n.mu.Unlock()
}

// Sessions is how many live sessions this server holds in memory.
func (n *Node) Sessions() int {
	now := n.Clock().Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, s := range n.sessions {
		if s.expires > now {
			c++
		}
	}
	return c
}

// Served is how many requests this server answered.
func (n *Node) Served() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.served
}

func (n *Node) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		io.WriteString(w, "ok\n")
		return
	}
	ctx := r.Context()
	release, err := n.Hold(ctx)
	if err != nil {
		n.Overloaded(w)
		return
	}
	defer release()
	if n.Work(ctx, n.cfg.Work) != nil {
		return
	}
	n.mu.Lock()
	n.served++
	n.mu.Unlock()
	switch {
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		n.login(w, r)
	case r.URL.Path == "/logout" && r.Method == http.MethodPost:
		n.logout(w, r)
	case r.URL.Path == "/auth/refresh" && r.Method == http.MethodPost:
		n.refresh(w, r)
	default:
		n.page(w, r)
	}
}

// storeFailed answers 503 when the session store did not answer.
func storeFailed(w http.ResponseWriter, err error) {
	http.Error(w, "session store: "+err.Error(), http.StatusServiceUnavailable)
}

func unauthorized(w http.ResponseWriter, why string) {
	w.Header().Set(HeaderAuth, why)
	w.Header().Set("WWW-Authenticate", `Bearer realm="scalelab"`)
	http.Error(w, "unauthenticated: "+why, http.StatusUnauthorized)
}

// LoginReply is the body of a successful login or refresh in jwt mode.
type LoginReply struct {
	Access  string `json:"access_token"`
	Expires int64  `json:"expires_lab_ns"` // when the access token expires, lab time
	Issued  int64  `json:"issued_lab_ns"`  // when it was issued, lab time
}

func (n *Node) login(w http.ResponseWriter, r *http.Request) {
	a := n.cfg.Auth
	ctx := r.Context()
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "login needs ?user=", http.StatusBadRequest)
		return
	}
	now := n.Clock().Now()
	switch a.Mode() {
	case ModeMemory, ModeShared:
		sid := newID()
		if a.Mode() == ModeShared {
			if err := a.storeSet(ctx, "sess:"+sid, sessValue(user, now+SessionTTL), SessionTTL); err != nil {
				storeFailed(w, err)
				return
			}
		} else {
			n.mu.Lock()
			n.sessions[sid] = memSession{user: user, expires: now + SessionTTL}
			n.mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	case ModeJWT:
		rt := newID()
		if err := a.storeSet(ctx, "refresh:"+rt, sessValue(user, now+RefreshTTL), RefreshTTL); err != nil {
			storeFailed(w, err)
			return
		}
		http.SetCookie(w, refreshCookie(rt))
		n.issue(w, user)
		return
	}
	io.WriteString(w, "\n")
}

func refreshCookie(rt string) *http.Cookie {
	return &http.Cookie{Name: CookieRefresh, Value: rt, Path: "/auth/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// issue writes a new access token as the reply's body.
func (n *Node) issue(w http.ResponseWriter, user string) bool {
	tok, c, err := n.cfg.Auth.tokens.Issue(user, n.cfg.Auth.AccessTTL())
	if err != nil {
		http.Error(w, "signing: "+err.Error(), http.StatusInternalServerError)
		return false
	}
	n.mu.Lock()
	n.lastToken = tok
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(LoginReply{Access: tok, Expires: int64(c.Expires), Issued: int64(c.Issued)})
	return true
}

func (n *Node) logout(w http.ResponseWriter, r *http.Request) {
	a := n.cfg.Auth
	ctx := r.Context()
	if c, err := r.Cookie(CookieSession); err == nil {
		n.mu.Lock()
		delete(n.sessions, c.Value)
		n.mu.Unlock()
		if a.Mode() == ModeShared {
			if err := a.storeDel(ctx, "sess:"+c.Value); err != nil {
				storeFailed(w, err)
				return
			}
		}
	}
	if c, err := r.Cookie(CookieRefresh); err == nil {
		if err := a.storeDel(ctx, "refresh:"+c.Value); err != nil {
			storeFailed(w, err)
			return
		}
	}
	if tok, ok := bearer(r); ok && a.Denylist() {
		// the token stays valid by its signature until it expires: only
		// a list every request checks can refuse it sooner
		if cl, why := a.tokens.Verify(tok); why == "" {
			if left := cl.Expires - n.Clock().Now(); left > 0 {
				if err := a.storeSet(ctx, "deny:"+cl.ID, "1", left); err != nil {
					storeFailed(w, err)
					return
				}
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	rc := refreshCookie("")
	rc.MaxAge = -1
	http.SetCookie(w, rc)
	io.WriteString(w, "\n")
}

func (n *Node) refresh(w http.ResponseWriter, r *http.Request) {
	a := n.cfg.Auth
	ctx := r.Context()
	c, err := r.Cookie(CookieRefresh)
	if err != nil || c.Value == "" {
		unauthorized(w, RefuseNoSession)
		return
	}
	v, err := a.storeGet(ctx, "refresh:"+c.Value)
	if err != nil {
		storeFailed(w, err)
		return
	}
	user, ok := parseSess(v, n.Clock().Now())
	if !ok {
		unauthorized(w, RefuseRevoked)
		return
	}
	if a.Rotate() {
		// a refresh token is good once: a stolen copy used after its
		// owner refreshed finds it revoked
		rt := newID()
		if err := a.storeSet(ctx, "refresh:"+rt, sessValue(user, n.Clock().Now()+RefreshTTL), RefreshTTL); err != nil {
			storeFailed(w, err)
			return
		}
		if err := a.storeDel(ctx, "refresh:"+c.Value); err != nil {
			storeFailed(w, err)
			return
		}
		http.SetCookie(w, refreshCookie(rt))
	}
	if n.issue(w, user) {
		a.refreshes.Add(1)
	}
}

// page answers a request that needs a logged-in user.
func (n *Node) page(w http.ResponseWriter, r *http.Request) {
	user, why, err := n.authenticate(r.Context(), r)
	switch {
	case err != nil:
		storeFailed(w, err)
	case why != "":
		unauthorized(w, why)
	default:
		fmt.Fprintf(w, "<!doctype html><p>hello %s</p>\n", user)
	}
}

// authenticate finds who is asking: a bearer token is verified by its
// signature (and the denylist when on); a session id is looked up where
// the mode keeps sessions.
func (n *Node) authenticate(ctx context.Context, r *http.Request) (user, why string, err error) {
	a := n.cfg.Auth
	if tok, ok := bearer(r); ok {
		c, why, err := a.verifyToken(ctx, tok)
		return c.User, why, err
	}
	c, cerr := r.Cookie(CookieSession)
	if cerr != nil || c.Value == "" {
		return "", RefuseNoSession, nil
	}
	now := n.Clock().Now()
	if a.Mode() == ModeShared {
		v, err := a.storeGet(ctx, "sess:"+c.Value)
		if err != nil {
			return "", "", err
		}
		u, ok := parseSess(v, now)
		if !ok {
			return "", RefuseNoSession, nil
		}
		return u, "", nil
	}
	n.mu.Lock()
	s, ok := n.sessions[c.Value]
	n.mu.Unlock()
	if !ok || s.expires <= now {
		return "", RefuseNoSession, nil
	}
	return s.user, "", nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return tok, ok && tok != ""
}

// A stored session or refresh token is "user expiry": the expiry is lab
// time, so it runs on the lab clock whatever the store's own clock does.
func sessValue(user string, expires time.Duration) string {
	return user + " " + strconv.FormatInt(int64(expires), 10)
}

func parseSess(v string, now time.Duration) (string, bool) {
	u, e, ok := strings.Cut(v, " ")
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || time.Duration(exp) <= now {
		return "", false
	}
	return u, true
}

// Snap adds the size and cost, the sessions in memory and the last token
// issued, split into its parts (never the key).
func (n *Node) Snap() engine.NodeSnap {
	s := n.Server.Snap()
	n.Sized.Fill(&s)
	a := n.cfg.Auth
	mode := a.Mode()
	switch mode {
	case ModeMemory:
		s.Detail = engine.Textf("session.detail.memory", "%s in memory", engine.Plural(n.Sessions(), "session"))
	case ModeShared:
		s.Detail = engine.Textf("session.detail.shared", "sessions in the shared store")
	case ModeJWT:
		s.Detail = engine.Textf("session.detail.jwt", "verifies %s tokens", a.tokens.Alg())
	}
	n.mu.Lock()
	tok := n.lastToken
	n.mu.Unlock()
	if mode == ModeJWT && tok != "" {
		if h, p, sig, ok := Parts(tok); ok {
			s.Lines = append(s.Lines,
				engine.Line{Label: engine.Textf("session.line.token", "last token"), Value: engine.Textf("session.value", "%s", Short(tok))},
				engine.Line{Label: engine.Textf("session.line.header", "header"), Value: engine.Textf("session.value", "%s", h)},
				engine.Line{Label: engine.Textf("session.line.payload", "payload"), Value: engine.Textf("session.value", "%s", p)},
				engine.Line{Label: engine.Textf("session.line.signature", "signature"), Value: engine.Textf("session.value", "%s", sig)})
		}
	}
	return s
}
