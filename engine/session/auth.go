// The login system the web servers of a step share: where sessions live,
// the token keys, the Redis store and the revocation settings.

package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
	"scalelab/engine/kv"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
)

// Where a user's login lives.
const (
	ModeMemory = "memory" // a session in one web server's memory, its id in a cookie
	ModeShared = "shared" // a session in the shared Redis store, its id in a cookie
	ModeJWT    = "jwt"    // a signed access token; a refresh token in an HttpOnly cookie
)

// Modes lists the session modes in the order a knob cycles them.
func Modes() []string { return []string{ModeMemory, ModeShared, ModeJWT} }

// SessionTTL is how long a session lives without use (lab time).
const SessionTTL = 30 * time.Minute

// RefreshTTL is how long a refresh token lives (lab time).
const RefreshTTL = 24 * time.Hour

// Why a request was refused as unauthenticated (the X-Scalelab-Auth header
// of a 401), besides the token refusals.
const (
	RefuseNoSession = "no-session" // no credential, or a session id this server does not know
	RefuseRevoked   = "revoked"    // a token on the denylist, or a refresh token revoked
)

// HeaderAuth names why a 401 was given.
const HeaderAuth = "X-Scalelab-Auth"

// ErrStoreDown is returned when the session store did not answer.
var ErrStoreDown = errors.New("session store did not answer")

// AuthConfig describes the login system.
type AuthConfig struct {
	Mode string
	Alg  string
	// Store is the shared Redis store (sessions in shared mode, refresh
	// tokens and the denylist with JWTs); nil when the step has none.
	Store     *kv.KVNode
	AccessTTL time.Duration
	Denylist  bool
	Rotate    bool
}

// Auth is the state every web server of a step shares: the mode in force,
// the token keys and the store client. Its counters are the component's
// measurements: store round trips and their latency, token verifications
// and their time, refusals by reason.
type Auth struct {
	clock  *engine.Clock
	tokens *Tokens
	store  *kv.KVNode
	rdb    *redis.Client

	mode      atomic.Pointer[string]
	accessTTL atomic.Int64
	denylist  atomic.Bool
	rotate    atomic.Bool

	storeOps, refreshes, denyChecks atomic.Int64

	mu        sync.Mutex
	storeLat  *engine.Window // store round trips, lab time
	storeHist *hdr.Histogram // the same, since the start
	verify    *hdr.Histogram // token verifications, real time (CPU work)
}

// NewAuth makes the login system; sys closes its store client.
func NewAuth(sys *engine.System, cfg AuthConfig) (*Auth, error) {
	if cfg.Alg == "" {
		cfg.Alg = AlgHS256
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	tok, err := NewTokens(sys.Clock.Now, cfg.Alg)
	if err != nil {
		return nil, err
	}
	a := &Auth{clock: sys.Clock, tokens: tok, store: cfg.Store, storeLat: engine.NewWindow(sys.Clock, 5),
		storeHist: engine.NewHist(), verify: engine.NewHist()}
	if err := a.SetMode(cfg.Mode); err != nil {
		return nil, err
	}
	a.accessTTL.Store(int64(cfg.AccessTTL))
	a.denylist.Store(cfg.Denylist)
	a.rotate.Store(cfg.Rotate)
	if cfg.Store != nil {
		a.rdb = redis.NewClient(&redis.Options{Addr: cfg.Store.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, PoolSize: 64})
		sys.OnClose(a.rdb.Close)
		cfg.Store.SetClockNote(engine.Textf("session.store.clock", "no server TTLs: sessions and refresh tokens expire on the lab clock (the expiry is in the value), denylisted tokens at their own exp"))
	}
	return a, nil
}

// Tokens are the step's token keys.
func (a *Auth) Tokens() *Tokens { return a.tokens }

// Mode is where logins live now.
func (a *Auth) Mode() string { return *a.mode.Load() }

// SetMode moves new logins to another place; logins made under the old
// mode are not carried over.
func (a *Auth) SetMode(m string) error {
	switch m {
	case ModeMemory, ModeShared, ModeJWT:
	default:
		return fmt.Errorf("session mode %q is not one of memory, shared, jwt: %w", m, engine.ErrUnknownKnob)
	}
	if m != ModeMemory && a.store == nil {
		return fmt.Errorf("session mode %s needs a session store: %w", m, engine.ErrNotSupported)
	}
	a.mode.Store(&m)
	return nil
}

// AccessTTL is the lifetime of new access tokens.
func (a *Auth) AccessTTL() time.Duration { return time.Duration(a.accessTTL.Load()) }

// SetAccessTTL changes the lifetime of tokens issued from now on.
func (a *Auth) SetAccessTTL(d time.Duration) { a.accessTTL.Store(int64(d)) }

// Denylist reports whether logout puts access tokens on a denylist that
// every request checks.
func (a *Auth) Denylist() bool { return a.denylist.Load() }

// SetDenylist turns the denylist on or off.
func (a *Auth) SetDenylist(on bool) { a.denylist.Store(on) }

// Rotate reports whether a refresh hands out a new refresh token and
// revokes the old one.
func (a *Auth) Rotate() bool { return a.rotate.Load() }

// SetRotate turns refresh-token rotation on or off.
func (a *Auth) SetRotate(on bool) { a.rotate.Store(on) }

// Stats are the login system's counters since the start.
type Stats struct {
	StoreOps       int64 // round trips to the session store
	Refreshes      int64 // access tokens renewed with a refresh token
	DenylistChecks int64 // denylist lookups (one per token-bearing request while it is on)
}

// Stats returns the counters.
func (a *Auth) Stats() Stats {
	return Stats{StoreOps: a.storeOps.Load(), Refreshes: a.refreshes.Load(), DenylistChecks: a.denyChecks.Load()}
}

// StoreRecent is the store's round trips per second and latency over the
// last seconds.
func (a *Auth) StoreRecent() (float64, engine.Quantiles) { return a.storeLat.Stats() }

// StoreP50 is the median store round trip since the start (lab time), and
// how many there were.
func (a *Auth) StoreP50() (time.Duration, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := engine.QuantilesOf(a.storeHist)
	return q.P50, q.N
}

// VerifyP50 is the median time one token verification took (real time: it
// is CPU work, not waiting), and how many were timed.
func (a *Auth) VerifyP50() (time.Duration, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := engine.QuantilesOf(a.verify)
	return q.P50, q.N
}

// verify checks an access token, timing it, and the denylist when on.
func (a *Auth) verifyToken(ctx context.Context, tok string) (Claims, string, error) {
	start := time.Now()
	c, why := a.tokens.Verify(tok)
	d := time.Since(start)
	a.mu.Lock()
	engine.RecordHist(a.verify, d)
	a.mu.Unlock()
	if why != "" {
		return c, why, nil
	}
	if a.Denylist() {
		a.denyChecks.Add(1)
		n, err := a.do(ctx, func(ctx context.Context) (int64, error) { return a.rdb.Exists(ctx, "deny:"+c.ID).Result() })
		if err != nil {
			return c, "", err
		}
		if n > 0 {
			return c, RefuseRevoked, nil
		}
	}
	return c, "", nil
}

// do runs one store round trip, counting and timing it.
func (a *Auth) do(ctx context.Context, fn func(context.Context) (int64, error)) (int64, error) {
	if a.rdb == nil {
		return 0, ErrStoreDown
	}
	start := a.clock.Now()
	n, err := fn(ctx)
	d := a.clock.Now() - start
	a.storeOps.Add(1)
	if errors.Is(err, redis.Nil) {
		err = nil // not there is an answer
	}
	if a.store != nil {
		a.store.Record(d, err)
	}
	if err != nil {
		a.storeLat.Record(d, true)
		return 0, fmt.Errorf("%w: %v", ErrStoreDown, err)
	}
	a.storeLat.Record(d, false)
	a.mu.Lock()
	engine.RecordHist(a.storeHist, d)
	a.mu.Unlock()
	return n, nil
}

// storeGet reads a key; "" when it is not there.
func (a *Auth) storeGet(ctx context.Context, key string) (string, error) {
	var v string
	_, err := a.do(ctx, func(ctx context.Context) (int64, error) {
		s, err := a.rdb.Get(ctx, key).Result()
		v = s
		return 0, err
	})
	return v, err
}

// storeSet writes a key that lives for ttl of lab time. What decides is
// lab time: a session or refresh token carries its lab expiry in its
// value, and a denylisted token's own exp is checked on the lab clock, so
// the server's TTL only clears the key away. A real server is given none
// (its TTLs count wall time and would end a session early while the lab
// clock runs slow or stands paused); its keys stay until deleted.
func (a *Auth) storeSet(ctx context.Context, key, val string, ttl time.Duration) error {
	ttl = a.store.ServerTTL(ttl)
	_, err := a.do(ctx, func(ctx context.Context) (int64, error) { return 0, a.rdb.Set(ctx, key, val, ttl).Err() })
	return err
}

func (a *Auth) storeDel(ctx context.Context, key string) error {
	_, err := a.do(ctx, func(ctx context.Context) (int64, error) { return a.rdb.Del(ctx, key).Result() })
	return err
}

// newID is a random session id or refresh token: 128 bits, hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
