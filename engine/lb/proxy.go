// The reverse proxy: picking a target, retries, the round trip and copying
// the answer back.

package lb

import (
	"bytes"
	"io"
	"net/http"
	"scalelab/engine"
	"slices"
	"strings"
)

// maxRetryBody is the largest request body the load balancer keeps so it can
// resend it to another target; a bigger body is streamed and not retried.
const maxRetryBody = 64 << 10

// pick selects an eligible target not in tried and counts the request in
// flight on it. Under sticky-cookie, a draining target the request's cookie
// names is picked too.
func (lb *LB) pick(p Policy, r *http.Request, tried []*target) *target {
	_, sticky := p.(*stickyCookie)
	for range 4 {
		el := *lb.eligible.Load()
		if len(tried) > 0 {
			el = without(el, tried)
		}
		if sticky {
			if t := lb.pinnedDraining(el, r, tried); t != nil {
				return t
			}
		}
		t := p.Select(el, r)
		if t == nil {
			return nil
		}
		t.active.Add(1)
		if !t.draining.Load() && !t.removed.Load() {
			return t
		}
		lb.release(t) // began draining or left since the list was built
	}
	return nil
}

// pinnedDraining returns, counted in flight, the target r's SERVERID cookie
// names when that target is draining but still in service (healthy, or
// health checks off; not removed, not in tried): like HAProxy's drain mode,
// a draining target keeps the users pinned to it and takes no new ones. It
// returns nil otherwise; an eligible target is Select's to find.
func (lb *LB) pinnedDraining(el []*target, r *http.Request, tried []*target) *target {
	name := pinnedName(r)
	if name == "" {
		return nil
	}
	for _, t := range el {
		if t.name == name {
			return nil
		}
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.findLocked(name) // removed targets are not in the group
	if t == nil || !t.draining.Load() || (lb.healthOn.Load() && !t.healthy.Load()) || slices.Contains(tried, t) {
		return nil
	}
	// Counted in under mu: the drain removes the target only when, under
	// mu, it finds nothing in flight.
	t.active.Add(1)
	return t
}

func without(ts, drop []*target) []*target {
	out := make([]*target, 0, len(ts))
next:
	for _, t := range ts {
		for _, d := range drop {
			if t == d {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

func (lb *LB) release(t *target) {
	if t.active.Add(-1) == 0 && t.draining.Load() {
		t.signalIdle()
	}
}

func (lb *LB) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := lb.sys.Clock.Now()
	np := lb.policy.Load()
	_, sticky := np.p.(*stickyCookie)
	pin := "" // the target the SERVERID cookie names
	if sticky {
		pin = pinnedName(r)
	}
	body, whole, err := readBody(r)
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	retries := lb.Retries()
	if !whole {
		retries = 0 // the body cannot be sent twice
	}
	var triedBuf [3]*target
	tried := triedBuf[:0]
	for attempt := 0; ; attempt++ {
		t := lb.pick(np.p, r, tried)
		if t == nil {
			if attempt == 0 {
				http.Error(w, "no healthy targets", http.StatusServiceUnavailable)
			} else {
				http.Error(w, "bad gateway: no other healthy target to retry on", http.StatusBadGateway)
			}
			return
		}
		t.requests.Add(1)
		resp, err := lb.roundTrip(r, t, body, whole, sticky)
		if err != nil {
			lb.release(t)
			if r.Context().Err() != nil {
				return // the client left, or this load balancer was killed
			}
			t.failures.Add(1)
			lb.connFailed(t)
			tried = append(tried, t)
			if attempt < retries {
				continue
			}
			http.Error(w, "bad gateway: "+t.name+": "+shortErr(err), http.StatusBadGateway)
			return
		}
		if t.connFails.Load() != 0 {
			t.connFails.Store(0)
		}
		setPin := ""
		if sticky && t.name != pin {
			setPin = t.name // a new user, or redispatched
		}
		ok := lb.copyResponse(w, resp, setPin)
		lb.release(t)
		if !ok || resp.StatusCode >= 500 {
			t.failures.Add(1)
		}
		if !ok {
			// The target died mid-answer: break the client's connection
			// rather than hand it a truncated body.
			panic(http.ErrAbortHandler)
		}
		if resp.StatusCode < 500 {
			d := lb.sys.Clock.Now() - start
			np.mu.Lock()
			engine.RecordHist(np.hist, d)
			np.mu.Unlock()
		}
		return
	}
}

// readBody keeps up to maxRetryBody of the request body so it can be
// resent; whole is false when the body is bigger (buf is then its start).
func readBody(r *http.Request) (buf []byte, whole bool, err error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true, nil
	}
	if r.ContentLength > maxRetryBody {
		return nil, false, nil
	}
	buf, err = io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if err != nil {
		return nil, false, err
	}
	return buf, len(buf) <= maxRetryBody, nil
}

// removeHopHeaders drops the headers meaningful for one connection only.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range [...]string{
		"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	} {
		delete(h, name)
	}
}

// roundTrip sends r to t over its link, without the SERVERID cookie when
// unpin is set. An error means no answer came back.
func (lb *LB) roundTrip(r *http.Request, t *target, body []byte, whole, unpin bool) (*http.Response, error) {
	ctx := r.Context()
	if t.link != nil {
		if err := t.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	out := r.Clone(ctx)
	out.URL.Scheme = "http"
	out.URL.Host = t.addr()
	out.RequestURI = ""
	out.Close = false
	switch {
	case !whole:
		out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	case len(body) > 0:
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
	default:
		out.Body = nil
		out.ContentLength = 0
	}
	out.GetBody = nil
	removeHopHeaders(out.Header)
	if unpin {
		removeCookie(out.Header, StickyCookie)
	}
	out.Header.Set(engine.HeaderVia, lb.sys.Token)
	ip := clientIP(r)
	if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	out.Header["X-Forwarded-For"] = []string{ip}
	return lb.transport.RoundTrip(out)
}

// removeCookie takes the cookie name out of h's Cookie headers and keeps
// the others (HAProxy's "indirect": the web server never sees it).
func removeCookie(h http.Header, name string) {
	vv := h["Cookie"]
	if len(vv) == 0 {
		return
	}
	out := make([]string, 0, len(vv))
	for _, v := range vv {
		if !strings.Contains(v, name) {
			out = append(out, v)
			continue
		}
		var kept []string
		for _, c := range strings.Split(v, ";") {
			c = strings.TrimSpace(c)
			if k, _, _ := strings.Cut(c, "="); c == "" || strings.TrimSpace(k) == name {
				continue
			}
			kept = append(kept, c)
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	if len(out) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = out
}

// pinCookie is the Set-Cookie that pins a user to the named target.
func pinCookie(name string) string {
	return StickyCookie + "=" + name + "; Path=/; HttpOnly; SameSite=Lax"
}

// markPrivate adds "private" to the Cache-Control of an answer that sets a
// user's own cookie (HAProxy's "nocache"): a shared cache such as a CDN
// edge must not keep it, or everyone behind it would share one target.
func markPrivate(h http.Header) {
	cc := strings.Join(h.Values("Cache-Control"), ", ")
	for _, d := range strings.Split(cc, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d == "private" || d == "no-store" {
			return
		}
	}
	if cc == "" {
		cc = "private"
	} else {
		cc += ", private"
	}
	h["Cache-Control"] = []string{cc}
}

// copyResponse writes resp to w and closes its body; pin, when not "",
// names the target the answer pins the user to with a SERVERID cookie,
// next to the target's own cookies. It reports false when reading from the
// target failed part way; a client that went away is not the target's
// failure.
func (lb *LB) copyResponse(w http.ResponseWriter, resp *http.Response, pin string) bool {
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	if pin != "" {
		sc := h["Set-Cookie"]
		h["Set-Cookie"] = append(sc[:len(sc):len(sc)], pinCookie(pin))
		markPrivate(h)
	}
	w.WriteHeader(resp.StatusCode)
	bp := lb.bufs.Get().(*[]byte)
	defer lb.bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return true
			}
		}
		switch {
		case rerr == io.EOF:
			return true
		case rerr != nil:
			return false
		}
	}
}

// shortErr names a transport error briefly for a 502 body.
func shortErr(err error) string {
	switch engine.Classify(err, nil) {
	case engine.ReasonRefused:
		return "connection refused"
	case engine.ReasonReset:
		return "connection reset"
	case engine.ReasonTimeout:
		return "timeout"
	}
	return err.Error()
}
