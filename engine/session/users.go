// The virtual users who log in, browse, log out, and the attacker who
// replays what they left behind or makes tokens up.

package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// UsersConfig describes the users.
type UsersConfig struct {
	Users int
	// Entry is the public address requests go to (the load balancer).
	Entry func() string
	// LogoutShare is the chance that a logged-in user's next request is a
	// logout.
	LogoutShare float64
	// ReplayShare is the share of requests that are an attacker replaying
	// a credential some user held before logging out.
	ReplayShare float64
	// ForgeShare is the share of requests, while the attack is on, that
	// carry a forged token or a guessed session id.
	ForgeShare float64
	Seed       int64
}

// ForgeGuessedSID is the attack of a random session id.
const ForgeGuessedSID = "guessed-sid"

// AttackKinds lists every forgery the attacker tries, in turn.
func AttackKinds() []string { return append(ForgeKinds(), ForgeGuessedSID) }

// Request tags, given to Observe.
const (
	TagLogin   = "login"
	TagPage    = "page"
	TagRefresh = "refresh"
	TagLogout  = "logout"
	TagReplay  = "replay"
	TagForged  = "forged"
)

// Users are the load's logged-in users. A user logs in when it has no
// login, browses with the cookie or token it got, renews an expired access
// token with its refresh cookie, and now and then logs out. Cookies are
// kept per user in a real cookie jar and sent back as a browser does
// (Path, HttpOnly and all), so the load balancer's sticky cookie and the
// session cookie travel on their own. Use Fetch and Observe as the load's.
type Users struct {
	clock *engine.Clock
	auth  *Auth
	cfg   UsersConfig
	users []*vuser

	attack atomic.Bool
	next   atomic.Uint64 // attack kinds in turn

	rmu sync.Mutex
	rng *rand.Rand

	// Latency is recorded under the request's tag and "<tag>/<mode>".
	Latency *engine.Book

	mu        sync.Mutex
	stolen    []stolen // credentials kept after logout, newest last
	lost      []Lost
	replays   []Replay
	forged    map[string][2]int64 // kind → refused, accepted
	lastToken string
}

type vuser struct {
	mu        sync.Mutex
	id        string
	jar       http.CookieJar
	in        bool
	access    string
	accessExp time.Duration
	life      time.Duration // the access token's whole life
}

type stolen struct {
	access, sid string
	life        time.Duration // the access token's whole life
	at          time.Duration // when its user logged out
	user        string
}

// Lost is one login lost: a logged-in user's request refused as
// unauthenticated.
type Lost struct {
	T    time.Duration
	User string
	Why  string
}

// Replay is one request with a credential its user had logged out of.
type Replay struct {
	T, LoggedOut time.Duration
	Accepted     bool
	Token        bool          // an access token (else a session id)
	Life         time.Duration // the access token's whole life, issue to expiry
}

// NewUsers makes the users; all start logged out.
func NewUsers(clock *engine.Clock, auth *Auth, cfg UsersConfig) *Users {
	u := &Users{clock: clock, auth: auth, cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5e55)),
		Latency: engine.NewBook(clock), forged: map[string][2]int64{}}
	for i := range cfg.Users {
		jar, _ := cookiejar.New(nil)
		u.users = append(u.users, &vuser{id: fmt.Sprintf("u%d", i), jar: jar})
	}
	return u
}

// SetAttack turns the forging attacker on or off.
func (u *Users) SetAttack(on bool) { u.attack.Store(on) }

// Attack reports whether the attacker is forging.
func (u *Users) Attack() bool { return u.attack.Load() }

// SetShares changes the chances of a logout, a replay and (with the
// attack on) a forgery.
func (u *Users) SetShares(logout, replay, forge float64) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	u.cfg.LogoutShare, u.cfg.ReplayShare, u.cfg.ForgeShare = logout, replay, forge
}

// chance is the roll for one of the shares.
func (u *Users) chance(share func(*UsersConfig) float64) bool {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	return u.rng.Float64() < share(&u.cfg)
}

func (u *Users) intn(n int) int {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	return u.rng.IntN(n)
}

// LoggedIn is how many users hold a login (as they believe).
func (u *Users) LoggedIn() int {
	n := 0
	for _, v := range u.users {
		v.mu.Lock()
		if v.in {
			n++
		}
		v.mu.Unlock()
	}
	return n
}

// LostLogins returns every login lost so far, in order.
func (u *Users) LostLogins() []Lost {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Lost(nil), u.lost...)
}

// Replays returns every replay so far, in order.
func (u *Users) Replays() []Replay {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Replay(nil), u.replays...)
}

// Forged returns, by attack kind, how many were refused and accepted.
func (u *Users) Forged() map[string][2]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string][2]int64, len(u.forged))
	for k, v := range u.forged {
		out[k] = v
	}
	return out
}

// Fetch makes one request for a user: an attacker's (by the shares), or
// the user's next step.
func (u *Users) Fetch(ctx context.Context, c *http.Client, _ engine.Op, _, user int) (string, string) {
	if u.attack.Load() && u.chance(func(c *UsersConfig) float64 { return c.ForgeShare }) {
		return u.forge(ctx, c), TagForged
	}
	if u.chance(func(c *UsersConfig) float64 { return c.ReplayShare }) {
		if r, ok := u.replay(ctx, c); ok {
			return r, TagReplay
		}
	}
	v := u.users[user%len(u.users)]
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.in {
		return u.login(ctx, c, v), TagLogin
	}
	if u.chance(func(c *UsersConfig) float64 { return c.LogoutShare }) {
		return u.logout(ctx, c, v), TagLogout
	}
	if v.access != "" && u.clock.Now() >= v.accessExp {
		if r := u.refresh(ctx, c, v); r != "" {
			return r, TagRefresh
		}
	}
	return u.page(ctx, c, v), TagPage
}

// Observe records a finished request's latency by tag and mode.
func (u *Users) Observe(_ engine.Op, _, _ int, lat time.Duration, reason, tag string) {
	failed := reason != ""
	u.Latency.Record(tag, lat, failed)
	u.Latency.Record(tag+"/"+u.auth.Mode(), lat, failed)
}

// do sends one request with a user's cookies and keeps the cookies it
// sets. It returns the response with its body read.
func (u *Users) do(ctx context.Context, c *http.Client, jar http.CookieJar, method, path string, hdr http.Header) (*http.Response, []byte, string) {
	req, err := http.NewRequestWithContext(ctx, method, u.cfg.Entry()+path, nil)
	if err != nil {
		return nil, nil, engine.ReasonOther
	}
	for k, vv := range hdr {
		req.Header[k] = vv
	}
	if jar != nil {
		for _, ck := range jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, engine.Classify(err, context.Cause(ctx))
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if jar != nil {
		jar.SetCookies(req.URL, resp.Cookies())
	}
	if rerr != nil {
		return nil, nil, engine.Classify(rerr, context.Cause(ctx))
	}
	return resp, body, ""
}

// status names a finished response's failure: "" for 2xx.
func status(resp *http.Response) string {
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(engine.HeaderReason) == engine.ReasonQueueFull:
		return engine.ReasonQueueFull
	case resp.StatusCode >= 500:
		return engine.Reason5xx
	case resp.StatusCode >= 400:
		return fmt.Sprintf("%d", resp.StatusCode)
	}
	return ""
}

func (u *Users) login(ctx context.Context, c *http.Client, v *vuser) string {
	resp, body, r := u.do(ctx, c, v.jar, http.MethodPost, "/login?user="+v.id, nil)
	if r != "" {
		return r
	}
	if r := status(resp); r != "" {
		return r
	}
	v.in, v.access, v.accessExp = true, "", 0
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var lr LoginReply
		if err := json.Unmarshal(body, &lr); err != nil || lr.Access == "" {
			return engine.ReasonOther
		}
		v.access, v.accessExp, v.life = lr.Access, time.Duration(lr.Expires), time.Duration(lr.Expires-lr.Issued)
		u.mu.Lock()
		u.lastToken = lr.Access
		u.mu.Unlock()
	}
	return ""
}

func (u *Users) authHeader(v *vuser) http.Header {
	if v.access == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + v.access}}
}

// lose marks a user logged out by the system and counts the lost login.
func (u *Users) lose(v *vuser, resp *http.Response) {
	v.in, v.access = false, ""
	u.mu.Lock()
	u.lost = append(u.lost, Lost{T: u.clock.Now(), User: v.id, Why: resp.Header.Get(HeaderAuth)})
	u.mu.Unlock()
}

func (u *Users) page(ctx context.Context, c *http.Client, v *vuser) string {
	resp, _, r := u.do(ctx, c, v.jar, http.MethodGet, "/page", u.authHeader(v))
	if r != "" {
		return r
	}
	if resp.StatusCode == http.StatusUnauthorized {
		u.lose(v, resp)
	}
	return status(resp)
}

func (u *Users) refresh(ctx context.Context, c *http.Client, v *vuser) string {
	resp, body, r := u.do(ctx, c, v.jar, http.MethodPost, "/auth/refresh", nil)
	if r != "" {
		return r
	}
	if resp.StatusCode == http.StatusUnauthorized {
		u.lose(v, resp)
		return status(resp)
	}
	if r := status(resp); r != "" {
		return r
	}
	var lr LoginReply
	if err := json.Unmarshal(body, &lr); err != nil || lr.Access == "" {
		return engine.ReasonOther
	}
	v.access, v.accessExp, v.life = lr.Access, time.Duration(lr.Expires), time.Duration(lr.Expires-lr.Issued)
	return ""
}

func (u *Users) logout(ctx context.Context, c *http.Client, v *vuser) string {
	// what an attacker could have copied before the logout: the access
	// token, or the session id from the cookie
	st := stolen{access: v.access, life: v.life, user: v.id}
	if base, err := url.Parse(u.cfg.Entry()); err == nil {
		for _, ck := range v.jar.Cookies(base) {
			if ck.Name == CookieSession {
				st.sid = ck.Value
			}
		}
	}
	resp, _, r := u.do(ctx, c, v.jar, http.MethodPost, "/logout", u.authHeader(v))
	if r != "" {
		return r
	}
	if r := status(resp); r != "" {
		return r
	}
	v.in, v.access = false, ""
	st.at = u.clock.Now()
	if st.access != "" || st.sid != "" {
		u.mu.Lock()
		u.stolen = append(u.stolen, st)
		if len(u.stolen) > 512 {
			u.stolen = append(u.stolen[:0], u.stolen[len(u.stolen)-256:]...)
		}
		u.mu.Unlock()
	}
	return ""
}

// replay sends a credential a user logged out of; ok is false when none
// has been kept yet.
func (u *Users) replay(ctx context.Context, c *http.Client) (string, bool) {
	u.mu.Lock()
	if len(u.stolen) == 0 {
		u.mu.Unlock()
		return "", false
	}
	st := u.stolen[len(u.stolen)-1-u.intn(min(len(u.stolen), 64))]
	u.mu.Unlock()
	h := http.Header{}
	if st.access != "" {
		h.Set("Authorization", "Bearer "+st.access)
	} else {
		h.Set("Cookie", CookieSession+"="+st.sid)
	}
	sent := u.clock.Now()
	resp, _, r := u.do(ctx, c, nil, http.MethodGet, "/page", h)
	if r != "" {
		return r, true
	}
	acc := resp.StatusCode == http.StatusOK
	if !acc && resp.StatusCode != http.StatusUnauthorized {
		return status(resp), true
	}
	u.mu.Lock()
	u.replays = append(u.replays, Replay{T: sent, LoggedOut: st.at, Accepted: acc, Token: st.access != "", Life: st.life})
	u.mu.Unlock()
	return "", true
}

// forge sends the next kind of forged credential. A refusal is the system
// working: only a transport failure or an error status counts as failed.
func (u *Users) forge(ctx context.Context, c *http.Client) string {
	kinds := AttackKinds()
	kind := kinds[(u.next.Add(1)-1)%uint64(len(kinds))]
	h := http.Header{}
	victim := "admin" // no such user logs in: an edited token must not turn into a real one
	if kind == ForgeGuessedSID {
		h.Set("Cookie", CookieSession+"="+newID())
	} else {
		u.mu.Lock()
		valid := u.lastToken
		u.mu.Unlock()
		if valid == "" {
			// nothing to edit yet: make a token up with the wrong key
			kind = ForgeWrongKey
		}
		tok, err := u.auth.tokens.Forge(kind, victim, valid)
		if err != nil {
			return engine.ReasonOther
		}
		h.Set("Authorization", "Bearer "+tok)
	}
	resp, _, r := u.do(ctx, c, nil, http.MethodGet, "/page", h)
	if r != "" {
		return r
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return status(resp)
	}
	u.mu.Lock()
	f := u.forged[kind]
	if resp.StatusCode == http.StatusOK {
		f[1]++
	} else {
		f[0]++
	}
	u.forged[kind] = f
	u.mu.Unlock()
	return ""
}
