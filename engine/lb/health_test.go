// Tests of failure detection: active checks, passive ejection, rejoin and
// turning checks off live.

package lb

import (
	"net/http"
	"scalelab/engine"
	"strings"
	"testing"
	"time"
)

func fastHealth(cfg LBConfig) LBConfig {
	cfg.Health.Interval = 200 * time.Millisecond
	cfg.Health.Timeout = 100 * time.Millisecond
	return cfg
}

// TestLBKillProtected: with health checks and a retry, killing one of three
// targets under load is nearly invisible to clients, the target is ejected
// quickly and rejoins after a restart.
func TestLBKillProtected(t *testing.T) {
	cfg := fastHealth(DefaultLBConfig("lb-1"))
	l := newLab(t, cfg, web{}, web{}, web{})
	d := l.drive(8, 0)
	defer d.stop()
	waitFor(t, "warm-up traffic", 10*time.Second, func() bool { return d.total() >= 200 })
	if err := l.webs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	atKill := d.total()
	waitFor(t, "traffic after the kill", 10*time.Second, func() bool { return d.total() >= atKill+600 })
	d.stop()
	ok, failed := d.ok.Load(), d.failed.Load()
	if share := float64(failed) / float64(ok+failed); share >= 0.01 {
		t.Errorf("failed share %.2f%% (%d of %d), want < 1%%", 100*share, failed, ok+failed)
	}
	kill, _ := l.event(engine.EvKill, "web-2")
	eject := l.waitEvent(t, EvEject, "web-2", 5*time.Second)
	if took := eject.T - kill.T; took > cfg.Health.Interval*time.Duration(cfg.Health.Fall)+time.Second {
		t.Errorf("ejected %s after the kill", took)
	}
	t.Logf("%d ok, %d failed; ejected after %s (%s)", ok, failed, eject.T-kill.T, eject.Detail)
	if ts := l.lb.Targets(); ts[1].Healthy || !ts[0].Healthy || !ts[2].Healthy {
		t.Errorf("targets after kill: %+v", ts)
	}
	if d := l.lb.Snap().Detail.String(); d != "round-robin · 2/3 healthy · retries 1" {
		t.Errorf("detail %q", d)
	}
	if links := l.sys.Snapshot().Links; links[1].Up || !links[0].Up {
		t.Errorf("links after eject: %+v", links)
	}

	// Restart: health checks put it back and it gets traffic again.
	if err := l.webs[1].Restart(); err != nil {
		t.Fatal(err)
	}
	rejoin := l.waitEvent(t, EvRejoin, "web-2", 10*time.Second)
	t.Logf("rejoined: %s", rejoin.Detail)
	before := l.webs[1].Snap().Requests
	for range 30 {
		if code, _ := l.get("/x"); code != http.StatusOK {
			t.Fatalf("after rejoin: %d", code)
		}
	}
	if got := l.webs[1].Snap().Requests - before; got < 5 {
		t.Errorf("web-2 got %d of 30 requests after rejoining", got)
	}
}

// TestLBActiveChecks: with no traffic at all, health checks alone find a
// dead target within Interval×Fall and take it back after Rise passes.
func TestLBActiveChecks(t *testing.T) {
	cfg := fastHealth(DefaultLBConfig("lb-1"))
	l := newLab(t, cfg, web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	kill, _ := l.event(engine.EvKill, "web-1")
	eject := l.waitEvent(t, EvEject, "web-1", 5*time.Second)
	if !strings.HasPrefix(eject.Detail, "health check failed 2 times") {
		t.Errorf("eject detail %q", eject.Detail)
	}
	if took := eject.T - kill.T; took > cfg.Health.Interval*time.Duration(cfg.Health.Fall)+time.Second {
		t.Errorf("ejected %s after the kill", took)
	}
	for range 10 {
		if code, body := l.get("/x"); code != http.StatusOK || body != "hello from web-2 " {
			t.Fatalf("with web-1 out: %d %q", code, body)
		}
	}
	if err := l.webs[0].Restart(); err != nil {
		t.Fatal(err)
	}
	l.waitEvent(t, EvRejoin, "web-1", 10*time.Second)
	if ts := l.lb.Targets(); !ts[0].Healthy {
		t.Errorf("web-1 not healthy after rejoin: %+v", ts)
	}
}

// TestLBKillUnprotected: with no health checks and no retries, the dead
// target keeps its third of the traffic and those requests fail.
func TestLBKillUnprotected(t *testing.T) {
	cfg := DefaultLBConfig("lb-1")
	cfg.Health.Enabled, cfg.Retries = false, 0
	l := newLab(t, cfg, web{}, web{}, web{})
	d := l.drive(6, 0)
	defer d.stop()
	waitFor(t, "warm-up traffic", 10*time.Second, func() bool { return d.total() >= 100 })
	if d.failed.Load() != 0 {
		t.Fatalf("%d failures before the kill", d.failed.Load())
	}
	if err := l.webs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	ok0, failed0 := d.ok.Load(), d.failed.Load()
	waitFor(t, "traffic after the kill", 10*time.Second, func() bool { return d.total() >= ok0+failed0+600 })
	d.stop()
	ok, failed := d.ok.Load()-ok0, d.failed.Load()-failed0
	share := float64(failed) / float64(ok+failed)
	t.Logf("after the kill: %d ok, %d failed (%.1f%%)", ok, failed, 100*share)
	if share < 0.2 || share > 0.45 {
		t.Errorf("failed share %.1f%%, want about a third", 100*share)
	}
	if _, ejected := l.event(EvEject, "web-2"); ejected {
		t.Error("web-2 was ejected with health checks off")
	}
	if ts := l.lb.Targets(); ts[1].Failures < failed*9/10 {
		t.Errorf("web-2 failures %d, clients saw %d", ts[1].Failures, failed)
	}
}

// TestLBHealthOffLive: switching health checks off live puts an ejected
// target back in rotation.
func TestLBHealthOffLive(t *testing.T) {
	l := newLab(t, fastHealth(DefaultLBConfig("lb-1")), web{}, web{})
	if err := l.webs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	l.waitEvent(t, EvEject, "web-1", 5*time.Second)
	if err := l.sys.Apply(engine.Action{Kind: engine.ActSet, Key: "lb.health", Str: "off"}); err != nil {
		t.Fatal(err)
	}
	if err := l.lb.SetRetries(0); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range 20 {
		code, _ := l.get("/x")
		codes[code]++
	}
	if codes[http.StatusBadGateway] != 10 || codes[http.StatusOK] != 10 {
		t.Errorf("health off, retries 0, one of two dead: %v", codes)
	}
}
