package session_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"scalelab/engine/session"
)

// BenchmarkPage measures one authenticated GET /page on a web server with
// no modelled work, by where the login lives: what each way of knowing the
// user adds to a request. p50-µs is the median of the timed requests; the
// shared store's own round trip (no modelled delay) is reported as
// store-p50-µs.
func BenchmarkPage(b *testing.B) {
	for _, c := range []struct{ name, mode, alg string }{
		{"memory", session.ModeMemory, ""},
		{"shared", session.ModeShared, ""},
		{"jwt-HS256", session.ModeJWT, session.AlgHS256},
		{"jwt-EdDSA", session.ModeJWT, session.AlgEdDSA},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := newBenchRig(b, c.mode, c.alg)
			cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer cl.CloseIdleConnections()
			req := login(b, cl, r.node.URL())
			lat := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				start := time.Now()
				resp, err := cl.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("page: %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			if d, n := r.auth.StoreP50(); c.mode == session.ModeShared && n > 0 {
				b.ReportMetric(float64(d.Nanoseconds())/1e3, "store-p50-µs")
			}
		})
	}
}

// login logs one user in and returns the request that carries its login.
func login(b *testing.B, cl *http.Client, base string) *http.Request {
	resp, err := cl.Post(base+"/login?user=u1", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/page", nil)
	for _, ck := range resp.Cookies() {
		if ck.Name == session.CookieSession {
			req.AddCookie(ck)
		}
	}
	if tok := accessOf(body); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}
