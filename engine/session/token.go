package session

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms.
const (
	AlgHS256 = "HS256" // one shared secret signs and verifies
	AlgEdDSA = "EdDSA" // the auth server signs with a private key; web servers hold only the public key
)

// Refusal reasons: why Verify turned a token down.
const (
	RefuseMalformed = "malformed"     // not a JWT at all / unparsable / missing claims
	RefuseAlg       = "wrong-alg"     // alg none or any alg other than the pinned one
	RefuseSignature = "bad-signature" // signature does not match (edited payload, wrong key)
	RefuseExpired   = "expired"
)

// Forgery kinds: what an attacker can do with a token they hold or make up.
const (
	ForgeEdited   = "edited-payload" // take a valid token, change sub to another user, keep the old signature
	ForgeAlgNone  = "alg-none"       // header {"alg":"none"}, payload for any user, empty signature
	ForgeWrongKey = "wrong-key"      // properly signed, with a key the server does not have
	ForgeExpired  = "expired"        // properly signed with the right key, exp in the past (an attacker replaying an old token)
)

// ForgeKinds returns the forgery kinds in declaration order.
func ForgeKinds() []string {
	return []string{ForgeEdited, ForgeAlgNone, ForgeWrongKey, ForgeExpired}
}

// forgeTTL is the lifetime a forged token claims (and, for ForgeExpired,
// how long ago it ran out).
const forgeTTL = 15 * time.Minute

// Claims are what a token says, read back after verification.
type Claims struct {
	User    string        // sub
	ID      string        // jti, random per token
	Issued  time.Duration // lab time (iat)
	Expires time.Duration // lab time (exp)
}

// signer is the issuing side: the auth server's key. For HS256 it is the
// shared secret, for EdDSA the ed25519 private key.
type signer struct {
	method jwt.SigningMethod
	key    any // []byte or ed25519.PrivateKey
}

func (s signer) sign(c jwt.RegisteredClaims) (string, error) {
	return jwt.NewWithClaims(s.method, c).SignedString(s.key)
}

// verifier is the verifying side: all a web server needs. For HS256 that is
// the same shared secret the issuer signs with (every web server holds the
// secret, so any of them could mint tokens); for EdDSA it is only the
// ed25519 public key, which can verify but never sign.
type verifier struct {
	alg     string
	epoch   time.Time
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
}

func newVerifier(alg string, key any, epoch time.Time, now func() time.Time) *verifier {
	return &verifier{
		alg:   alg,
		epoch: epoch,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{alg}),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
			jwt.WithLeeway(0),
		),
		keyFunc: func(*jwt.Token) (any, error) { return key, nil },
	}
}

// Tokens issues and verifies access tokens on the lab clock. Keys are
// random per Tokens value (per run).
//
// now returns the lab time (a time.Duration since the lab started); tokens
// carry real NumericDates: epoch + lab time, where epoch is fixed at
// 2026-01-01T00:00:00Z so exp and iat are plausible dates. Dates have
// jwt's precision of whole seconds: a token issued at lab 0.4s with a 15m
// lifetime says iat 0s and exp 15m0s. Expiry is checked on the lab clock
// with no leeway: a token is valid while lab time < exp.
//
// A Tokens is safe for concurrent use (if now is).
type Tokens struct {
	now   func() time.Duration
	epoch time.Time
	alg   string
	sign  signer    // the auth server's side
	check *verifier // the web servers' side: holds no signing key for EdDSA
}

// epoch is the real date lab time 0 stands for in tokens.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewTokens makes a Tokens for alg (AlgHS256 or AlgEdDSA) with fresh random
// keys, reading lab time from now.
func NewTokens(now func() time.Duration, alg string) (*Tokens, error) {
	if now == nil {
		return nil, errors.New("session: NewTokens needs a lab clock")
	}
	t := &Tokens{now: now, epoch: epoch, alg: alg}
	labNow := func() time.Time { return t.epoch.Add(t.now()) }
	sign, verifyKey, err := newKeys(alg)
	if err != nil {
		return nil, err
	}
	t.sign = sign
	t.check = newVerifier(alg, verifyKey, t.epoch, labNow)
	return t, nil
}

// newKeys makes a random signing key for alg and the key that verifies it.
func newKeys(alg string) (signer, any, error) {
	switch alg {
	case AlgHS256:
		secret := make([]byte, 32)
		rand.Read(secret)
		return signer{method: jwt.SigningMethodHS256, key: secret}, secret, nil
	case AlgEdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return signer{}, nil, fmt.Errorf("session: ed25519 key: %w", err)
		}
		return signer{method: jwt.SigningMethodEdDSA, key: priv}, pub, nil
	}
	return signer{}, nil, fmt.Errorf("session: unknown token algorithm %q (want %s or %s)", alg, AlgHS256, AlgEdDSA)
}

// Alg returns the algorithm tokens are signed with and pinned to.
func (t *Tokens) Alg() string { return t.alg }

// claimsAt builds the registered claims for user, issued at lab time iat
// and expiring ttl later, with a random jti.
func (t *Tokens) claimsAt(user string, iat, ttl time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Subject:   user,
		ID:        rand.Text(),
		IssuedAt:  jwt.NewNumericDate(t.epoch.Add(iat)),
		ExpiresAt: jwt.NewNumericDate(t.epoch.Add(iat + ttl)),
	}
}

// labClaims converts registered claims to lab-time Claims.
func labClaims(rc *jwt.RegisteredClaims, epoch time.Time) Claims {
	c := Claims{User: rc.Subject, ID: rc.ID}
	if rc.IssuedAt != nil {
		c.Issued = rc.IssuedAt.Sub(epoch)
	}
	if rc.ExpiresAt != nil {
		c.Expires = rc.ExpiresAt.Sub(epoch)
	}
	return c
}

// Issue signs a token for user, valid for ttl from now on the lab clock. The
// returned claims are the token's own (dates in whole seconds).
func (t *Tokens) Issue(user string, ttl time.Duration) (token string, c Claims, err error) {
	if user == "" {
		return "", Claims{}, errors.New("session: Issue needs a user")
	}
	if ttl <= 0 {
		return "", Claims{}, fmt.Errorf("session: token lifetime %v is not positive", ttl)
	}
	rc := t.claimsAt(user, t.now(), ttl)
	token, err = t.sign.sign(rc)
	if err != nil {
		return "", Claims{}, fmt.Errorf("session: sign: %w", err)
	}
	return token, labClaims(&rc, t.epoch), nil
}

// Verify checks token as a web server would: the algorithm is pinned to
// Alg (WithValidMethods), exp is required and checked on the lab clock, and
// sub must be present. It returns the claims, or a refusal reason: one of
// the Refuse* constants ("" when the token is good).
func (t *Tokens) Verify(token string) (Claims, string) {
	return t.check.verify(token)
}

func (v *verifier) verify(token string) (Claims, string) {
	var rc jwt.RegisteredClaims
	tok, err := v.parser.ParseWithClaims(token, &rc, v.keyFunc)
	if err != nil {
		return Claims{}, v.refusal(tok, err)
	}
	if rc.Subject == "" {
		return Claims{}, RefuseMalformed
	}
	return labClaims(&rc, v.epoch), ""
}

// refusal maps a parse error to a Refuse* reason. jwt reports an alg outside
// the pinned set as a signature error ("signing method none is invalid") and
// an unknown or missing alg as unverifiable, so the header's alg, which the
// parser has already decoded into tok, decides RefuseAlg first.
func (v *verifier) refusal(tok *jwt.Token, err error) string {
	if tok == nil || errors.Is(err, jwt.ErrTokenMalformed) {
		return RefuseMalformed
	}
	if alg, _ := tok.Header["alg"].(string); alg != v.alg {
		return RefuseAlg
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return RefuseSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return RefuseExpired
	}
	// Missing exp (ErrTokenRequiredClaimMissing), a claim of the wrong
	// type, and anything else that is not a well-formed token of ours.
	return RefuseMalformed
}

// Forge makes a token of the given kind claiming to be user (for
// ForgeEdited, valid is a genuine token to edit; other kinds ignore it).
// Forged tokens claim a 15-minute lifetime; ForgeExpired's ran out 15
// minutes ago.
func (t *Tokens) Forge(kind, user, valid string) (string, error) {
	now := t.now()
	switch kind {
	case ForgeEdited:
		return editSubject(valid, user)
	case ForgeAlgNone:
		return jwt.NewWithClaims(jwt.SigningMethodNone, t.claimsAt(user, now, forgeTTL)).
			SignedString(jwt.UnsafeAllowNoneSignatureType)
	case ForgeWrongKey:
		other, _, err := newKeys(t.alg)
		if err != nil {
			return "", err
		}
		return other.sign(t.claimsAt(user, now, forgeTTL))
	case ForgeExpired:
		return t.sign.sign(t.claimsAt(user, now-2*forgeTTL, forgeTTL))
	}
	return "", fmt.Errorf("session: unknown forgery %q", kind)
}

// editSubject rewrites the sub of a token's payload and keeps its header and
// signature as they were.
func editSubject(token, user string) (string, error) {
	head, rest, ok1 := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return "", errors.New("session: ForgeEdited needs a genuine token to edit")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("session: token payload: %w", err)
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(raw, &payload); err != nil {
		return "", fmt.Errorf("session: token payload: %w", err)
	}
	sub, err := json.Marshal(user)
	if err != nil {
		return "", err
	}
	payload["sub"] = sub
	raw, err = json.Marshal(payload)
	if err != nil {
		return "", err
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + sig, nil
}

// Parts splits a token for display: header and payload as compact JSON
// text, and the signature shortened (first 8 chars + "…", empty for an
// unsigned token). ok is false if token is not three dot-separated parts
// whose first two are base64url JSON. It shows what anyone holding the
// token can read; it never shows a key.
func Parts(token string) (header, payload, sig string, ok bool) {
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return "", "", "", false
	}
	header, ok1 = segmentJSON(h)
	payload, ok2 = segmentJSON(p)
	if !ok1 || !ok2 {
		return "", "", "", false
	}
	if len(s) > 8 {
		s = s[:8] + "…"
	}
	return header, payload, s, true
}

// segmentJSON decodes a base64url token segment and compacts its JSON.
func segmentJSON(seg string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", false
	}
	return buf.String(), true
}

// Short shortens a token for display: first 12 chars + "…" + last 6. A
// token too short to shorten is returned as it is.
func Short(token string) string {
	if len(token) <= 12+6+1 {
		return token
	}
	return token[:12] + "…" + token[len(token)-6:]
}
