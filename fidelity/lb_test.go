package fidelity

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLB(t *testing.T) {
	if raceEnabled {
		t.Skip("latency under the race detector says nothing; CI runs the fidelity suite without it")
	}
	tools := requireTools(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // every file of the run: the system's, haproxy's
	start := time.Now()
	rows, err := LB(context.Background(), tools)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows in %.1fs", len(rows), time.Since(start).Seconds())
	checkRows(t, rows, nil)
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("files left behind: %v", left)
	}
}

func TestHAProxyStartsAndCleansUp(t *testing.T) {
	tools := requireTools(t)
	webs := []webAddr{{"web-1", "127.0.0.1:9"}}
	h, err := startHAProxy(context.Background(), tools.HAProxy, "token", webs, []haproxyBackend{{"rr", "roundrobin"}, {"lc", "leastconn"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(h.dir + "/haproxy.cfg")
	if err != nil || !strings.Contains(string(cfg), "http-request set-header X-Scalelab-Via token") {
		t.Errorf("config %q: %v", cfg, err)
	}
	h.Close()
	if _, err := os.Stat(h.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", h.dir, err)
	}
	select {
	case <-h.exited:
	default:
		t.Error("haproxy still running")
	}
	for _, a := range h.addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listening", a)
		}
	}
}

func TestHAProxyBadConfigFails(t *testing.T) {
	tools := requireTools(t)
	_, err := startHAProxy(context.Background(), tools.HAProxy, "token", nil, []haproxyBackend{{"x", "no-such-algorithm"}})
	if err == nil || !strings.Contains(err.Error(), "haproxy exited") {
		t.Fatalf("err %v, want haproxy exited", err)
	}
}
