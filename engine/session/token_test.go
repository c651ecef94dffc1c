package session

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var algs = []string{AlgHS256, AlgEdDSA}

// labClock is a fake lab clock: set moves it, now reads it.
type labClock struct{ t atomic.Int64 }

func (c *labClock) set(d time.Duration) { c.t.Store(int64(d)) }
func (c *labClock) now() time.Duration  { return time.Duration(c.t.Load()) }

func newTokens(t testing.TB, alg string) (*Tokens, *labClock) {
	t.Helper()
	clk := &labClock{}
	tk, err := NewTokens(clk.now, alg)
	if err != nil {
		t.Fatalf("NewTokens(%s): %v", alg, err)
	}
	if tk.Alg() != alg {
		t.Fatalf("Alg() = %q, want %q", tk.Alg(), alg)
	}
	return tk, clk
}

func issue(t *testing.T, tk *Tokens, user string, ttl time.Duration) (string, Claims) {
	t.Helper()
	tok, c, err := tk.Issue(user, ttl)
	if err != nil {
		t.Fatalf("Issue(%q, %v): %v", user, ttl, err)
	}
	return tok, c
}

// payload decodes a token's payload claims.
func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	_, p, _, ok := Parts(tok)
	if !ok {
		t.Fatalf("Parts(%q) not ok", tok)
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(p), &m); err != nil {
		t.Fatalf("payload %s: %v", p, err)
	}
	return m
}

// A 15-minute token issued at lab 0 is good at 14m59s (and a nanosecond
// before 15m) and expired at exactly 15m00s: exp is a whole second, and
// jwt's check is now < exp with no leeway.
func TestExpiryExact(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			tk, clk := newTokens(t, alg)
			tok, c := issue(t, tk, "alice", 15*time.Minute)
			if c.Issued != 0 || c.Expires != 15*time.Minute {
				t.Fatalf("claims %+v, want issued 0, expires 15m", c)
			}
			p := payload(t, tok)
			if exp, iat := p["exp"], p["iat"]; exp != float64(epoch.Unix()+900) || iat != float64(epoch.Unix()) {
				t.Fatalf("payload exp %v iat %v, want %d and %d", exp, iat, epoch.Unix()+900, epoch.Unix())
			}
			for _, at := range []time.Duration{0, 14*time.Minute + 59*time.Second, 15*time.Minute - time.Nanosecond} {
				clk.set(at)
				if got, why := tk.Verify(tok); why != "" || got != c {
					t.Errorf("at lab %v: Verify = %+v, %q; want %+v, valid", at, got, why, c)
				}
			}
			for _, at := range []time.Duration{15 * time.Minute, 15*time.Minute + time.Second, time.Hour} {
				clk.set(at)
				if _, why := tk.Verify(tok); why != RefuseExpired {
					t.Errorf("at lab %v: refusal %q, want %q", at, why, RefuseExpired)
				}
			}
		})
	}
}

// Dates are whole seconds: a token issued at lab 0.4s says iat 0s and
// exp 15m0s, and Issue's claims say so too.
func TestIssueTruncatesToSeconds(t *testing.T) {
	tk, clk := newTokens(t, AlgHS256)
	clk.set(400 * time.Millisecond)
	tok, c := issue(t, tk, "alice", 15*time.Minute)
	if c.Issued != 0 || c.Expires != 15*time.Minute {
		t.Fatalf("claims %+v, want issued 0, expires 15m", c)
	}
	clk.set(15 * time.Minute)
	if _, why := tk.Verify(tok); why != RefuseExpired {
		t.Fatalf("at lab 15m: refusal %q, want %q", why, RefuseExpired)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			tk, clk := newTokens(t, alg)
			clk.set(3*time.Minute + 7*time.Second)
			tok, c := issue(t, tk, "alice", 15*time.Minute)
			want := Claims{User: "alice", ID: c.ID, Issued: 3*time.Minute + 7*time.Second, Expires: 18*time.Minute + 7*time.Second}
			if c != want || c.ID == "" {
				t.Fatalf("Issue claims %+v, want %+v with an ID", c, want)
			}
			clk.set(10 * time.Minute)
			got, why := tk.Verify(tok)
			if why != "" || got != want {
				t.Fatalf("Verify = %+v, %q; want %+v", got, why, want)
			}
			tok2, c2 := issue(t, tk, "alice", 15*time.Minute)
			if c2.ID == c.ID || tok2 == tok {
				t.Errorf("two tokens share ID %q", c.ID)
			}
			if h, _, _, _ := Parts(tok); h != `{"alg":"`+alg+`","typ":"JWT"}` {
				t.Errorf("header %s", h)
			}
		})
	}
}

func TestForgeriesRefused(t *testing.T) {
	if got, want := ForgeKinds(), []string{ForgeEdited, ForgeAlgNone, ForgeWrongKey, ForgeExpired}; !slices.Equal(got, want) {
		t.Fatalf("ForgeKinds() = %v, want %v", got, want)
	}
	want := map[string]string{
		ForgeEdited:   RefuseSignature,
		ForgeAlgNone:  RefuseAlg,
		ForgeWrongKey: RefuseSignature,
		ForgeExpired:  RefuseExpired,
	}
	for _, alg := range algs {
		tk, clk := newTokens(t, alg)
		clk.set(time.Hour)
		valid, _ := issue(t, tk, "alice", 15*time.Minute)
		for _, kind := range ForgeKinds() {
			t.Run(alg+"/"+kind, func(t *testing.T) {
				forged, err := tk.Forge(kind, "mallory", valid)
				if err != nil {
					t.Fatalf("Forge: %v", err)
				}
				if sub := payload(t, forged)["sub"]; sub != "mallory" {
					t.Errorf("forged token claims sub %v, want mallory", sub)
				}
				if c, why := tk.Verify(forged); why != want[kind] {
					t.Errorf("Verify(%s) = %+v, %q; want refusal %q", Short(forged), c, why, want[kind])
				}
			})
		}
		if _, why := tk.Verify(valid); why != "" {
			t.Errorf("%s: the genuine token is refused: %q", alg, why)
		}
	}
}

// The edited token keeps the original header and signature, and the rest of
// its claims.
func TestForgeEditedKeepsSignature(t *testing.T) {
	tk, _ := newTokens(t, AlgHS256)
	valid, c := issue(t, tk, "alice", 15*time.Minute)
	forged, err := tk.Forge(ForgeEdited, "mallory", valid)
	if err != nil {
		t.Fatal(err)
	}
	vs, fs := strings.Split(valid, "."), strings.Split(forged, ".")
	if vs[0] != fs[0] || vs[2] != fs[2] || vs[1] == fs[1] {
		t.Fatalf("edited token\n%s\nfrom\n%s", forged, valid)
	}
	if p := payload(t, forged); p["jti"] != c.ID || p["exp"] != float64(epoch.Add(c.Expires).Unix()) {
		t.Errorf("edited payload %v lost claims of %+v", p, c)
	}
	for _, bad := range []string{"", "abc", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c"} {
		if _, err := tk.Forge(ForgeEdited, "mallory", bad); err == nil {
			t.Errorf("Forge(edited, %q) made a token", bad)
		}
	}
	if _, err := tk.Forge("bribe", "mallory", valid); err == nil {
		t.Error("Forge of an unknown kind made a token")
	}
}

// A token from another Tokens value (another run: other random keys) is
// refused; so is a token of the other algorithm.
func TestOtherRunRefused(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			a, _ := newTokens(t, alg)
			b, _ := newTokens(t, alg)
			tok, _ := issue(t, a, "alice", 15*time.Minute)
			if _, why := b.Verify(tok); why != RefuseSignature {
				t.Errorf("other run: refusal %q, want %q", why, RefuseSignature)
			}
			other := AlgEdDSA
			if alg == AlgEdDSA {
				other = AlgHS256
			}
			c, _ := newTokens(t, other)
			tok, _ = issue(t, c, "alice", 15*time.Minute)
			if _, why := a.Verify(tok); why != RefuseAlg {
				t.Errorf("%s token: refusal %q, want %q", other, why, RefuseAlg)
			}
		})
	}
}

// alg none is refused although jwt can make and (with a magic key) accept
// such tokens; so is every alg but the pinned one, even with the right key.
func TestAlgRefused(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			tk, _ := newTokens(t, alg)
			claims := tk.claimsAt("mallory", 0, time.Hour)
			none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			// The library would accept it if told to: the pinning is what refuses it.
			if _, err := jwt.ParseWithClaims(none, &jwt.RegisteredClaims{},
				func(*jwt.Token) (any, error) { return jwt.UnsafeAllowNoneSignatureType, nil },
				jwt.WithTimeFunc(func() time.Time { return epoch })); err != nil {
				t.Fatalf("jwt refuses alg none even with the unsafe key: %v", err)
			}
			_, body, _ := strings.Cut(none, ".")
			body, _, _ = strings.Cut(body, ".")
			enc := base64.RawURLEncoding.EncodeToString
			tokens := map[string]string{
				"none":              none,
				"none+sig":          none + "c2ln",
				"None":              enc([]byte(`{"alg":"None","typ":"JWT"}`)) + "." + body + ".",
				"no alg":            enc([]byte(`{"typ":"JWT"}`)) + "." + body + ".",
				"alg not a string":  enc([]byte(`{"alg":1}`)) + "." + body + ".",
				"unknown alg":       enc([]byte(`{"alg":"XS999"}`)) + "." + body + ".c2ln",
				"none, expired too": mustSign(t, jwt.SigningMethodNone, tk.claimsAt("mallory", -time.Hour, time.Minute), jwt.UnsafeAllowNoneSignatureType),
			}
			switch alg {
			case AlgHS256:
				// The right secret, another HMAC: still refused, pinning is exact.
				tokens["HS512 right secret"] = mustSign(t, jwt.SigningMethodHS512, claims, tk.sign.key)
			case AlgEdDSA:
				// Key confusion: HMAC with the public key (which everyone
				// may know) as the secret.
				pub := tk.sign.key.(ed25519.PrivateKey).Public().(ed25519.PublicKey)
				tokens["HS256 with public key"] = mustSign(t, jwt.SigningMethodHS256, claims, []byte(pub))
			}
			for name, tok := range tokens {
				if c, why := tk.Verify(tok); why != RefuseAlg {
					t.Errorf("%s: Verify = %+v, %q; want %q", name, c, why, RefuseAlg)
				}
			}
		})
	}
}

func mustSign(t *testing.T, m jwt.SigningMethod, c jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func TestMalformedRefused(t *testing.T) {
	tk, _ := newTokens(t, AlgHS256)
	enc := base64.RawURLEncoding.EncodeToString
	head := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	noExp := tk.claimsAt("alice", 0, time.Hour)
	noExp.ExpiresAt = nil
	noSub := tk.claimsAt("", 0, time.Hour)
	for name, tok := range map[string]string{
		"empty":             "",
		"word":              "hello",
		"two parts":         "a.b",
		"four parts":        "a.b.c.d",
		"bad base64 header": "!!!." + enc([]byte(`{}`)) + ".c2ln",
		"header not JSON":   enc([]byte("hi")) + "." + enc([]byte(`{}`)) + ".c2ln",
		"payload not JSON":  head + "." + enc([]byte("hi")) + ".c2ln",
		"exp a string":      head + "." + enc([]byte(`{"sub":"a","exp":"soon"}`)) + ".c2ln",
		"bad base64 sig":    head + "." + enc([]byte(`{"sub":"a"}`)) + ".!!!",
		"no exp":            mustSign(t, jwt.SigningMethodHS256, noExp, tk.sign.key),
		"no sub":            mustSign(t, jwt.SigningMethodHS256, noSub, tk.sign.key),
	} {
		if c, why := tk.Verify(tok); why != RefuseMalformed {
			t.Errorf("%s: Verify = %+v, %q; want %q", name, c, why, RefuseMalformed)
		}
	}
}

func TestBadArguments(t *testing.T) {
	clk := &labClock{}
	if _, err := NewTokens(clk.now, "RS256"); err == nil {
		t.Error("NewTokens(RS256) made a Tokens")
	}
	if _, err := NewTokens(nil, AlgHS256); err == nil {
		t.Error("NewTokens without a clock made a Tokens")
	}
	tk, _ := newTokens(t, AlgHS256)
	if _, _, err := tk.Issue("alice", 0); err == nil {
		t.Error("Issue with ttl 0 made a token")
	}
	if _, _, err := tk.Issue("", time.Minute); err == nil {
		t.Error("Issue without a user made a token")
	}
}

// For EdDSA the verifying side holds only the public key; for HS256 it holds
// the shared secret the issuer signs with.
func TestVerifierKey(t *testing.T) {
	ed, _ := newTokens(t, AlgEdDSA)
	key, _ := ed.check.keyFunc(nil)
	if _, ok := key.(ed25519.PublicKey); !ok {
		t.Errorf("EdDSA verifier holds %T, want only ed25519.PublicKey", key)
	}
	hs, _ := newTokens(t, AlgHS256)
	key, _ = hs.check.keyFunc(nil)
	if k, ok := key.([]byte); !ok || string(k) != string(hs.sign.key.([]byte)) {
		t.Errorf("HS256 verifier holds %T, want the shared secret", key)
	}
}

func TestPartsAndShortHideKeys(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			tk, _ := newTokens(t, alg)
			tok, c := issue(t, tk, "alice", 15*time.Minute)
			h, p, sig, ok := Parts(tok)
			if !ok {
				t.Fatalf("Parts(%q) not ok", tok)
			}
			if h != `{"alg":"`+alg+`","typ":"JWT"}` {
				t.Errorf("header %s", h)
			}
			var pl map[string]any
			if err := json.Unmarshal([]byte(p), &pl); err != nil || pl["sub"] != "alice" || pl["jti"] != c.ID {
				t.Errorf("payload %s (%v), want sub alice, jti %s", p, err, c.ID)
			}
			if strings.ContainsAny(p, " \n") {
				t.Errorf("payload not compact: %q", p)
			}
			fullSig := tok[strings.LastIndex(tok, ".")+1:]
			if sig != fullSig[:8]+"…" {
				t.Errorf("sig %q, want %q…", sig, fullSig[:8])
			}
			short := Short(tok)
			if short != tok[:12]+"…"+tok[len(tok)-6:] {
				t.Errorf("Short = %q", short)
			}
			var key []byte
			switch k := tk.sign.key.(type) {
			case []byte:
				key = k
			case ed25519.PrivateKey:
				key = k.Seed()
			}
			shown := h + "\n" + p + "\n" + sig + "\n" + short
			for _, enc := range []string{
				base64.StdEncoding.EncodeToString(key),
				base64.RawStdEncoding.EncodeToString(key),
				base64.URLEncoding.EncodeToString(key),
				base64.RawURLEncoding.EncodeToString(key),
				hex.EncodeToString(key),
				string(key),
			} {
				for _, piece := range []string{enc, enc[:8]} {
					if strings.Contains(shown, piece) {
						t.Errorf("display shows key material %q:\n%s", piece, shown)
					}
				}
			}
		})
	}
	if _, _, sig, ok := Parts(mustSign(t, jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "x"}, jwt.UnsafeAllowNoneSignatureType)); !ok || sig != "" {
		t.Errorf("alg none: Parts sig %q ok %v, want empty and ok", sig, ok)
	}
	for _, bad := range []string{"", "a.b", "a.b.c.d", "!!!.e30.x", "e30.aGk.x"} {
		if _, _, _, ok := Parts(bad); ok {
			t.Errorf("Parts(%q) ok", bad)
		}
	}
	if s := Short("abc.def"); s != "abc.def" {
		t.Errorf("Short of a short string = %q", s)
	}
}

// Verify and Issue from many goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	for _, alg := range algs {
		tk, clk := newTokens(t, alg)
		tok, want := issue(t, tk, "alice", time.Hour)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					if g == 0 {
						clk.set(time.Duration(i) * time.Second)
					}
					if c, why := tk.Verify(tok); why != "" || c != want {
						t.Errorf("%s: Verify = %+v, %q", alg, c, why)
						return
					}
					if _, _, err := tk.Issue("bob", time.Minute); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
