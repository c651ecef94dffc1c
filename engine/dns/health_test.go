// Tests of the health checks, and that nothing outlives the lab.

package dns

import (
	"context"
	"net/http"
	"net/netip"
	"runtime"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"slices"
	"strings"
	"testing"
	"time"
)

func fastChecks(c *ServerConfig) {
	c.Interval = 200 * time.Millisecond
	c.Timeout = 100 * time.Millisecond
}

// TestHealthDownUp: a DC whose health check fails Fall times in a row is
// taken out of the answers; Rise passes put it back.
func TestHealthDownUp(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, fastChecks)
	iv := 200 * time.Millisecond
	enginetest.Eventually(t, "a passed check", 5*time.Second, func() bool {
		l.srv.hmu.Lock()
		defer l.srv.hmu.Unlock()
		return l.srv.dcs[0].passes > 0
	})

	from := len(sys.Events.All())
	failing := sys.Clock.Now()
	l.health["us"].status.Store(http.StatusInternalServerError)
	down := waitEvent(t, sys, EvDCDown, from)
	if took := down.T - failing; took < 2*iv-50*time.Millisecond || took > 4*iv+200*time.Millisecond {
		t.Errorf("taken out %s after its checks began to fail; Fall 3 × %s", took, iv)
	}
	if down.Detail != "us failed 3 health checks: taken out of answers" || down.Tone != engine.ToneBad {
		t.Errorf("event %q tone %v", down.Detail, down.Tone)
	}
	if l.srv.Healthy("us") {
		t.Error("us still healthy")
	}
	if _, dcs := l.srv.Answer(srcUS, netip.Prefix{}); !slices.Equal(dcs, []string{"eu"}) {
		t.Errorf("us region answered %v with us down", dcs)
	}
	if s := l.srv.Snap(); s.Detail.String() != "geodns · ttl 30s · us down, eu up" ||
		!strings.Contains(linesOf(l.srv), "DC us (127.0.1.1): down: out of answers") {
		t.Errorf("detail %q, lines:\n%s", s.Detail, linesOf(l.srv))
	}
	t.Logf("down %s after failing: %s", down.T-failing, down.Detail)

	from = len(sys.Events.All())
	passing := sys.Clock.Now()
	l.health["us"].status.Store(http.StatusOK)
	up := waitEvent(t, sys, EvDCUp, from)
	if took := up.T - passing; took < iv-50*time.Millisecond || took > 3*iv+200*time.Millisecond {
		t.Errorf("back %s after its checks passed again; Rise 2 × %s", took, iv)
	}
	if up.Detail != "us passed 2 health checks: back in answers" || up.Tone != engine.ToneGood {
		t.Errorf("event %q", up.Detail)
	}
	if _, dcs := l.srv.Answer(srcUS, netip.Prefix{}); !slices.Equal(dcs, []string{"us"}) {
		t.Errorf("us region answered %v with us back", dcs)
	}
}

// TestHealthNoURL: a DC with no health URL, or one that does not answer
// in time, fails its checks.
func TestHealthNoURL(t *testing.T) {
	sys := enginetest.System(t, 4)
	l := newLab(t, sys, func(c *ServerConfig) {
		fastChecks(c)
		c.DCs[0].Health = func() string { return "" }
	})
	l.health["eu"].hang.Store(true)
	enginetest.Eventually(t, "both DCs down", 10*time.Second, func() bool {
		return !l.srv.Healthy("us") && !l.srv.Healthy("eu")
	})
	if _, dcs := l.srv.Answer(srcEU, netip.Prefix{}); !slices.Equal(dcs, []string{"eu", "us"}) {
		t.Errorf("every DC down: answer %v, want all of them (fail open)", dcs)
	}
}

// TestNoLeaks: once the lab and the resolver are closed, none of the
// server's, the checks' or the resolver's goroutines is left.
func TestNoLeaks(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	l := newLab(t, sys, fastChecks)
	r := newResolver(t, l, ResolverConfig{Region: "us", Source: srcUS, Timeout: time.Hour})
	if _, err := r.Lookup(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "a passed check", 5*time.Second, func() bool {
		l.srv.hmu.Lock()
		defer l.srv.hmu.Unlock()
		return l.srv.dcs[1].passes > 0
	})
	// a query in flight at Close: the server holds it for an hour
	l.srv.SetLatency(time.Hour)
	go r.LookupSubnet(context.Background(), host, netEU)
	enginetest.Eventually(t, "a lookup in flight", 5*time.Second, func() bool { return r.Stats().Misses == 2 })
	r.Close()
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range l.health {
		h.Close()
	}
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if left = leaked(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// leaked returns the stacks of goroutines of this package (not its
// tests), of miekg/dns and of net/http.
func leaked() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "scalelab/engine/dns.Test") {
			continue
		}
		if strings.Contains(g, "scalelab/engine/dns.") || strings.Contains(g, "github.com/miekg/dns") ||
			strings.Contains(g, "net/http") || strings.Contains(g, "scalelab/engine.") {
			out = append(out, g)
		}
	}
	return out
}
