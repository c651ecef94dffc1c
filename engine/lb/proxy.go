// The reverse proxy: picking a target, retries, the round trip and copying
// the answer back.

package lb

import (
	"bytes"
	"io"
	"net/http"
	"scalelab/engine"
	"strings"
)

// maxRetryBody is the largest request body the load balancer keeps so it can
// resend it to another target; a bigger body is streamed and not retried.
const maxRetryBody = 64 << 10

// pick selects an eligible target not in tried and counts the request in
// flight on it.
func (lb *LB) pick(p Policy, r *http.Request, tried []*target) *target {
	for range 4 {
		el := *lb.eligible.Load()
		if len(tried) > 0 {
			el = without(el, tried)
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
		t.signalDrained()
	}
}

func (lb *LB) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := lb.sys.Clock.Now()
	np := lb.policy.Load()
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
		resp, err := lb.roundTrip(r, t, body, whole)
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
		ok := lb.copyResponse(w, resp)
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

// roundTrip sends r to t over its link. An error means no answer came back.
func (lb *LB) roundTrip(r *http.Request, t *target, body []byte, whole bool) (*http.Response, error) {
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
	out.Header.Set(engine.HeaderVia, lb.sys.Token)
	ip := clientIP(r)
	if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	out.Header["X-Forwarded-For"] = []string{ip}
	return lb.transport.RoundTrip(out)
}

// copyResponse writes resp to w and closes its body. It reports false when
// reading from the target failed part way; a client that went away is not
// the target's failure.
func (lb *LB) copyResponse(w http.ResponseWriter, resp *http.Response) bool {
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
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
