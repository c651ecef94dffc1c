package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServerKillRestart(t *testing.T) {
	sys := enginetest.System(t, 1)
	srv := engine.NewServer(engine.ServerConfig{Name: "web-1", Role: engine.Role("web"), Boot: 300 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
	if srv.State() != engine.StateDown || srv.Addr() != "" {
		t.Fatalf("a new server is %s at %q before Start", srv.State(), srv.Addr())
	}
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	c := enginetest.Client()
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || srv.State() != engine.StateUp {
		t.Fatalf("started server: %s at %q", srv.State(), addr)
	}
	if code, _ := enginetest.Do(t, c, "GET", srv.URL()+"/x", "", ""); code != 200 {
		t.Fatalf("GET = %d", code)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if srv.State() != engine.StateDown || srv.Snap().Addr != "" {
		t.Fatalf("after Kill: state %s, snap addr %q", srv.State(), srv.Snap().Addr)
	}
	if conn, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		conn.Close()
		t.Fatal("dial after Kill succeeded: listener still open")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Kill: %v, want connection refused", err)
	}
	if err := srv.Kill(); !errors.Is(err, engine.ErrDown) {
		t.Fatalf("Kill of a down node = %v, want ErrDown", err)
	}

	r0 := sys.Clock.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.State() != engine.StateRestarting {
		t.Fatalf("just after Restart: %s", srv.State())
	}
	if err := srv.Restart(); !errors.Is(err, engine.ErrNotDown) {
		t.Fatalf("Restart while restarting = %v, want ErrNotDown", err)
	}
	if err := srv.Kill(); !errors.Is(err, engine.ErrDown) {
		t.Fatalf("Kill while restarting = %v, want ErrDown", err)
	}
	enginetest.Eventually(t, "back up", 5*time.Second, func() bool { return srv.State() == engine.StateUp })
	if boot := sys.Clock.Now() - r0; boot < 300*time.Millisecond {
		t.Fatalf("up after %v of lab time, before the 300ms boot", boot)
	}
	if srv.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", srv.Addr(), addr)
	}
	if code, _ := enginetest.Do(t, c, "GET", "http://"+addr+"/x", "", ""); code != 200 {
		t.Fatalf("GET after restart = %d", code)
	}
	if err := srv.Restart(); !errors.Is(err, engine.ErrNotDown) {
		t.Fatalf("Restart of an up node = %v, want ErrNotDown", err)
	}
	for _, k := range []engine.EventKind{engine.EvKill, engine.EvRestart, engine.EvUp} {
		if !enginetest.HasEvent(sys, k, "web-1") {
			t.Errorf("no %s event for web-1 in %v", k, sys.Events.All())
		}
	}
	if n := srv.Snap().Requests; n != 2 {
		t.Errorf("Requests = %d, want 2", n)
	}
}

// A request in flight when its node is killed must fail on the client; it
// must never look like a success. (Kill must close the connections before
// it cancels the handlers: a handler whose lab sleep is cancelled returns
// without writing, and net/http would send an implicit empty 200.)
func TestServerKillFailsInFlight(t *testing.T) {
	sys := enginetest.System(t, 1)
	c := enginetest.Client()
	for i := 0; i < 40; i++ {
		srv := engine.NewServer(engine.ServerConfig{Name: fmt.Sprintf("web-%d", i), Role: engine.Role("web")}, sys.Clock, sys.Events, ctOK)
		if err := sys.AddNode(srv); err != nil {
			t.Fatal(err)
		}
		srv.SetLatency(time.Hour)
		inflight := make(chan error, 1)
		go func() {
			resp, err := c.Get(srv.URL() + "/slow")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					inflight <- nil // a whole response: the kill looked like a success
					return
				}
			}
			inflight <- err
		}()
		enginetest.Eventually(t, "request in flight", 5*time.Second, func() bool { return srv.Snap().InFlight == 1 })
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-inflight:
			if err == nil {
				t.Fatalf("trial %d: a request in flight during a kill got a complete response", i)
			}
			if r := engine.Classify(err, nil); r != engine.ReasonReset {
				t.Errorf("trial %d: failed as %q (%v), want reset", i, r, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a request in flight survived the kill")
		}
	}
}

// A server given a loopback address of its own listens there, and comes
// back there after a restart: a data center's entry keeps the address DNS
// hands out.
func TestServerListensOnItsOwnAddress(t *testing.T) {
	sys := enginetest.System(t, 1)
	srv := engine.NewServer(engine.ServerConfig{Name: "lb-eu", Role: engine.Role("lb"), Boot: 100 * time.Millisecond, Listen: "127.0.7.2:0"}, sys.Clock, sys.Events, ctOK)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.7.2:") {
		t.Fatalf("listens on %q, want 127.0.7.2", addr)
	}
	c := enginetest.Client()
	if code, _ := enginetest.Do(t, c, "GET", srv.URL()+"/x", "", ""); code != 200 {
		t.Fatalf("GET = %d", code)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "lb-eu up again", 10*time.Second, func() bool { return srv.State() == engine.StateUp })
	if srv.Addr() != addr {
		t.Fatalf("back on %q, want %q", srv.Addr(), addr)
	}
}

func TestServerRestartWaitsForClock(t *testing.T) {
	sys := enginetest.System(t, 1)
	srv := engine.NewServer(engine.ServerConfig{Name: "web-1", Role: engine.Role("web"), Boot: 100 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Pause()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ctLetRealTimePass(300 * time.Millisecond)
	if st := srv.State(); st != engine.StateRestarting {
		t.Fatalf("booted while the lab clock was paused: %s", st)
	}
	sys.Clock.Resume()
	enginetest.Eventually(t, "web-1 up once the clock resumed", 10*time.Second, func() bool { return srv.State() == engine.StateUp })
}

func TestServerPrivate(t *testing.T) {
	sys := enginetest.System(t, 1)
	srv := engine.NewServer(engine.ServerConfig{Name: "web-1", Role: engine.Role("web"), Private: "s3cret"}, sys.Clock, sys.Events, ctOK)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	c := enginetest.Client()
	if code, body := enginetest.Do(t, c, "GET", srv.URL()+"/page", "", ""); code != http.StatusForbidden || !strings.Contains(body, "private address") {
		t.Fatalf("no token: %d %q, want 403", code, body)
	}
	if code, _ := enginetest.Do(t, c, "GET", srv.URL()+"/page", "wrong", ""); code != http.StatusForbidden {
		t.Fatalf("wrong token: %d, want 403", code)
	}
	if code, body := enginetest.Do(t, c, "GET", srv.URL()+"/page", "s3cret", ""); code != 200 || body != "ok" {
		t.Fatalf("with token: %d %q", code, body)
	}
	if s := srv.Snap(); s.Public || s.Requests != 1 {
		t.Fatalf("snap: Public %v Requests %d; want private, refused requests not handled", s.Public, s.Requests)
	}
}

func TestSystemCloseNoLeaks(t *testing.T) {
	build := func(shape sqldb.DataShape) (*engine.System, *http.Client) {
		sys, err := engine.NewSystem(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Clock.SetSpeed(4); err != nil {
			t.Fatal(err)
		}
		db, err := sqldb.NewDBNode(sys, sqldb.DBConfig{Name: "db-1", Size: "small", Shape: shape, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		app, err := web.NewAppNode(sys, web.AppConfig{Name: "app-1", Size: "small", Shape: shape, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		kvNode, err := kv.NewKVNode(sys, "kv-1")
		if err != nil {
			t.Fatal(err)
		}
		store := kv.NewKVStore(sys, kvNode, nil, nil, shape)
		client := sqldb.NewDBClient(sys, db, sys.AddLink("web-1", "db-1"), nil)
		w1, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "small", Store: func() engine.Store { return client }})
		if err != nil {
			t.Fatal(err)
		}
		plain := engine.NewServer(engine.ServerConfig{Name: "web-2", Role: engine.Role("web"), Boot: 50 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
		for _, n := range []engine.Node{db, app, kvNode, w1, plain} {
			if err := sys.AddNode(n); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.LoadFrom(context.Background(), app.Data); err != nil {
			t.Fatal(err)
		}
		cfg := engine.DefaultLoadConfig()
		cfg.Entry = w1.URL
		cfg.Mix = engine.Mix{engine.OpPage: 1, engine.OpRead: 1, engine.OpFeed: 1, engine.OpWrite: 1}
		l, err := engine.NewLoad(cfg, sys.Clock)
		if err != nil {
			t.Fatal(err)
		}
		sys.SetLoad(l)
		sys.Start()
		c := enginetest.Client()
		enginetest.Do(t, c, "GET", app.URL()+"/feed?id=3", "", "")
		if _, err := store.Do(context.Background(), engine.OpFeed, 3, ""); err != nil {
			t.Fatal(err)
		}
		if err := plain.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := plain.Restart(); err != nil {
			t.Fatal(err)
		}
		snaps := sys.Subscribe()
		deadline := time.After(10 * time.Second)
		for { // run until the load has answered a few hundred requests
			select {
			case s := <-snaps:
				if s.Totals.OK >= 200 {
					return sys, c
				}
			case <-deadline:
				t.Fatalf("load made no progress: %+v", sys.Snapshot().Totals)
			}
		}
	}
	small := sqldb.DataShape{Users: 50, PostsPerUser: 2, Follows: 3, FeedLen: 5}

	// warm up once, so lazily started runtime goroutines are in the baseline
	sys, _ := build(small)
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	sys, c := build(small)
	dir := sys.Dir
	during := runtime.NumGoroutine()
	if err := sys.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.CloseIdleConnections()
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = runtime.NumGoroutine()
		if after <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d running, %d after Close:\n%s", before, during, after, buf[:runtime.Stack(buf, true)])
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("lab dir %s still there after Close: %v", dir, err)
	}
	t.Logf("goroutines: %d before, %d running, %d after Close", before, during, after)
}

// ctOK answers 200 to everything.
var ctOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
