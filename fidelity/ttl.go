// The TTL rows: keys with short expiries on miniredis, whose TTLs the lab
// counts down with FastForward (engine/cache), and on redis-server, whose
// TTLs count wall time.

package fidelity

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
)

// ttlStep is one command at a time from the start of the script.
type ttlStep struct {
	at   time.Duration
	name string
	args []any
	// ms marks a reading in milliseconds (PTTL) compared within ttlTol,
	// not as text.
	ms bool
}

// ttlTol is how far a PTTL reading on redis-server may be from
// miniredis': the real server's clock runs on while the suite sleeps.
const ttlTol = 20

// ttlScript sets keys as the lab does and reads them back as time passes:
// a cache entry (SET PX, and PEXPIRE to shorten it, as Cache.ClampTTL),
// sessions and a denylisted token (go-redis' Set: EX for whole seconds, PX
// otherwise, as engine/session's storeSet), PERSIST, overwrites with and
// without KEEPTTL, and EXPIRE to 0.
func ttlScript() []ttlStep {
	var s []ttlStep
	at := func(t time.Duration, name string, args ...any) {
		s = append(s, ttlStep{at: t, name: name, args: args})
	}
	ms := func(t time.Duration, name string, args ...any) {
		s = append(s, ttlStep{at: t, name: name, args: args, ms: true})
	}
	const t0, t1, t2 = 0, 150 * time.Millisecond, 400 * time.Millisecond
	// a cache entry with a 300 ms TTL
	at(t0, "cache: SET c PX 300", "SET", "c", "v", "PX", "300")
	ms(t0, "cache: PTTL c at 0", "PTTL", "c")
	at(t0, "cache: TTL c at 0 (seconds, rounded)", "TTL", "c")
	at(t1, "cache: GET c at 150ms", "GET", "c")
	ms(t1, "cache: PTTL c at 150ms", "PTTL", "c")
	at(t2, "cache: GET c at 400ms (expired)", "GET", "c")
	at(t2, "cache: TTL c at 400ms", "TTL", "c")
	at(t2, "cache: EXISTS c at 400ms", "EXISTS", "c")
	// ClampTTL shortens a long TTL with PEXPIRE
	at(t0, "clamp: SET e EX 60", "SET", "e", "v", "EX", "60")
	at(t0, "clamp: PEXPIRE e 300", "PEXPIRE", "e", "300")
	ms(t0, "clamp: PTTL e at 0", "PTTL", "e")
	at(t1, "clamp: GET e at 150ms", "GET", "e")
	at(t2, "clamp: GET e at 400ms (expired)", "GET", "e")
	// EXPIRE on a key without a TTL, then TTL in whole seconds: Redis
	// rounds the time left, so 600 ms left reads 1
	at(t0, "expire: SET s", "SET", "s", "v")
	at(t0, "expire: TTL s without a TTL", "TTL", "s")
	at(t0, "expire: EXPIRE s 1", "EXPIRE", "s", "1")
	at(t0, "expire: TTL s at 0", "TTL", "s")
	at(t2, "expire: TTL s at 400ms (600 ms left)", "TTL", "s")
	ms(t2, "expire: PTTL s at 400ms", "PTTL", "s")
	// sessions: go-redis' Set with 30 min is EX 1800, with 250 ms PX 250
	at(t0, "session: SET sess EX 1800", "SET", "sess", "u1", "EX", "1800")
	at(t0, "session: TTL sess", "TTL", "sess")
	at(t0, "deny: SET deny PX 250", "SET", "deny", "1", "PX", "250")
	at(t1, "deny: EXISTS deny at 150ms", "EXISTS", "deny")
	at(t2, "deny: EXISTS deny at 400ms", "EXISTS", "deny")
	// PERSIST
	at(t0, "persist: SET p PX 300", "SET", "p", "v", "PX", "300")
	at(t0, "persist: PERSIST p", "PERSIST", "p")
	at(t0, "persist: PERSIST p again", "PERSIST", "p")
	at(t0, "persist: TTL p", "TTL", "p")
	at(t2, "persist: GET p at 400ms", "GET", "p")
	// an overwrite drops the TTL unless KEEPTTL
	at(t0, "overwrite: SET o PX 300", "SET", "o", "v", "PX", "300")
	at(t0, "overwrite: SET o v2", "SET", "o", "v2")
	at(t0, "overwrite: TTL o", "TTL", "o")
	at(t2, "overwrite: GET o at 400ms", "GET", "o")
	at(t0, "keepttl: SET k PX 300", "SET", "k", "v", "PX", "300")
	at(t0, "keepttl: SET k v2 KEEPTTL", "SET", "k", "v2", "KEEPTTL")
	ms(t0, "keepttl: PTTL k", "PTTL", "k")
	at(t1, "keepttl: GET k at 150ms", "GET", "k")
	at(t2, "keepttl: GET k at 400ms (expired)", "GET", "k")
	// EXPIRE to 0 deletes; TTL of a missing key
	at(t0, "zero: SET z", "SET", "z", "v")
	at(t0, "zero: EXPIRE z 0", "EXPIRE", "z", "0")
	at(t0, "zero: EXISTS z", "EXISTS", "z")
	at(t0, "missing: TTL nokey", "TTL", "nokey")
	at(t0, "missing: PEXPIRE nokey 100", "PEXPIRE", "nokey", "100")
	return s
}

// ttlSide runs TTL scripts on one server: on miniredis time passes by
// FastForward (as engine/cache's tick does), on redis-server by waiting.
type ttlSide struct {
	rdb *redis.Client
	ff  func(time.Duration) // nil on redis-server
	t0  time.Time
	at  time.Duration // where the side's clock stands
}

// until brings the side's clock to at from the start.
func (s *ttlSide) until(ctx context.Context, at time.Duration) error {
	if at <= s.at {
		return nil
	}
	if s.ff != nil {
		s.ff(at - s.at)
		s.at = at
		return nil
	}
	if err := sleepCtx(ctx, time.Until(s.t0.Add(at))); err != nil {
		return err
	}
	s.at = at
	return nil
}

// ttlReading is one step's reply.
type ttlReading struct {
	text string
	ms   float64
}

// runTTLScript runs the steps in time order (the script lists them by
// key) and returns the replies in the script's order.
func runTTLScript(ctx context.Context, s *ttlSide, script []ttlStep) ([]ttlReading, error) {
	order := make([]int, len(script))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return script[order[a]].at < script[order[b]].at })
	out := make([]ttlReading, len(script))
	s.t0, s.at = time.Now(), 0
	for _, i := range order {
		st := script[i]
		if err := s.until(ctx, st.at); err != nil {
			return nil, err
		}
		_, text, err := doOn(ctx, s.rdb, st.args...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		out[i].text = text
		if st.ms {
			out[i].ms, _ = strconv.ParseFloat(text, 64)
		}
	}
	return out, nil
}

// expiryTTL is the TTL of the key whose expiry is timed, and expiryStep
// how often it is looked at.
const (
	expiryTTL  = 200 * time.Millisecond
	expiryStep = 2 * time.Millisecond
)

// timeExpiry sets a key with expiryTTL and looks at it every expiryStep
// until it is gone: how long it lived.
func timeExpiry(ctx context.Context, s *ttlSide) (time.Duration, error) {
	s.t0, s.at = time.Now(), 0
	if err := s.rdb.Set(ctx, "timed", "v", expiryTTL).Err(); err != nil {
		return 0, err
	}
	for at := expiryStep; at < 3*expiryTTL; at += expiryStep {
		if err := s.until(ctx, at); err != nil {
			return 0, err
		}
		n, err := s.rdb.Exists(ctx, "timed").Result()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			if s.ff != nil {
				return at, nil
			}
			return time.Since(s.t0), nil
		}
	}
	return 0, fmt.Errorf("a key with a %s TTL lived past %s", expiryTTL, 3*expiryTTL)
}

// TTL runs the TTL script and times one expiry on miniredis, moved on
// with FastForward, and on redis-server, and compares the replies.
func TTL(ctx context.Context, t Tools) ([]Row, error) {
	if t.RedisServer == "" {
		return nil, fmt.Errorf("%w: redis-server", ErrMissing)
	}
	script := ttlScript()
	mini, closeMini, err := newMiniSide()
	if err != nil {
		return nil, err
	}
	defer closeMini()
	labSide := &ttlSide{rdb: mini.rdb, ff: mini.mr.FastForward}
	lab, err := runTTLScript(ctx, labSide, script)
	if err != nil {
		return nil, fmt.Errorf("miniredis: %w", err)
	}
	labLife, err := timeExpiry(ctx, labSide)
	if err != nil {
		return nil, fmt.Errorf("miniredis: %w", err)
	}
	r, err := StartRedis(t.RedisServer)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	realSide := &ttlSide{rdb: r.Client()}
	real, err := runTTLScript(ctx, realSide, script)
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	realLife, err := timeExpiry(ctx, realSide)
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	against := Version(t.RedisServer, "--version")
	rows := make([]Row, 0, len(script)+1)
	for i, st := range script {
		cas := fmt.Sprintf("%02d %s", i+1, st.name)
		if st.ms {
			rows = append(rows, Within("ttl", cas, "pttl_ms", against, lab[i].ms, real[i].ms, ttlTol, fmt.Sprintf("±%d ms", ttlTol)))
			continue
		}
		rows = append(rows, Equal("ttl", cas, "reply", against, lab[i].text, real[i].text))
	}
	rows = append(rows, Within("ttl", fmt.Sprintf("SET PX %d, EXISTS every %s until gone", expiryTTL.Milliseconds(), expiryStep), "lived_ms", against,
		engine.Ms(labLife), engine.Ms(realLife), 25, "±25 ms"))
	return markKnown(rows, knownTTLDiffs), nil
}

// knownTTLDiffs are where miniredis (v2.40.0) answers otherwise than
// Redis 7, as this suite found them: the lab reads no TTL in whole seconds.
var knownTTLDiffs = map[string]string{
	"expire: TTL s at 400ms (600 ms left)": "miniredis' TTL truncates the time left to whole seconds, Redis rounds it ((ms+500)/1000); PTTL agrees",
}
