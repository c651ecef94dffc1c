// Tests of the reverse proxy: retries that resend the body, and the headers
// a target sees.

package lb

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"scalelab/engine"
	"strings"
	"testing"
)

// TestLBRetryResendsBody: a POST refused by a dead target is resent, body
// and all, to another.
func TestLBRetryResendsBody(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Enabled = false // keep sending to the dead one: every other request retries
	l := newLab(t, cfg, web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		body := fmt.Sprintf("payload-%d", i)
		resp, err := l.client.Post(l.lb.URL()+"/x", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != "hello from web-2 "+body {
			t.Errorf("POST %d: %d %q", i, resp.StatusCode, got)
		}
	}
	if ts := l.lb.Targets(); ts[0].Failures == 0 || ts[0].Failures != ts[0].Requests || ts[1].Requests != 10 {
		t.Errorf("targets: %+v", ts)
	}
}

// TestLBForwardedHeaders: the target sees the token and the client's
// address, and hop-by-hop headers do not cross.
func TestLBForwardedHeaders(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close() })
	got := make(chan http.Header, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			got <- r.Header.Clone()
		}
		w.Header().Set("Keep-Alive", "timeout=5")
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	lb, err := NewLB(DefaultLBConfig("lb-1"), sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(lb); err != nil {
		t.Fatal(err)
	}
	lb.AddTarget(&fakeNode{name: "web-1", addr: ln.Addr().String()}, nil)
	req, _ := http.NewRequest(http.MethodGet, lb.URL()+"/x?id=3", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Proxy-Authorization", "secret")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("response %d %v", resp.StatusCode, resp.Header)
	}
	h := <-got
	if h.Get(engine.HeaderVia) != sys.Token || h.Get("X-Forwarded-For") != "203.0.113.9, 127.0.0.1" || h.Get("Proxy-Authorization") != "" {
		t.Errorf("forwarded headers: %v", h)
	}
}
