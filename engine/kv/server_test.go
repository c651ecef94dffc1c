package kv_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
)

// realServer makes the test's KV nodes redis-server processes, and puts the
// backend back after it. It skips without a redis-server (SCALELAB_REDIS_SERVER,
// else redis-server on PATH) unless SCALELAB_FIDELITY_REQUIRED=1.
func realServer(t *testing.T) kv.Server {
	t.Helper()
	path := os.Getenv(kv.EnvServer)
	if path == "" {
		path, _ = exec.LookPath("redis-server")
	}
	if path == "" {
		if os.Getenv("SCALELAB_FIDELITY_REQUIRED") == "1" {
			t.Fatal("no redis-server (set " + kv.EnvServer + ") and SCALELAB_FIDELITY_REQUIRED=1")
		}
		t.Skip("no redis-server installed (set " + kv.EnvServer + ")")
	}
	prev, _ := kv.CurrentServer()
	srv, err := kv.UseServer(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.UseServer(prev.Path) })
	return srv
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func client(t *testing.T, n *kv.KVNode) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// A persistent node is a redis-server that a kill really kills and a
// restart brings back on the same port with every acknowledged write; a
// cache node comes back empty; closing the lab leaves no process and no
// directory.
func TestServerNodeLifecycle(t *testing.T) {
	srv := realServer(t)
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := sys.Clock.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	ctx := context.Background()
	store, err := kv.NewKVNode(sys, "kv-1")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := kv.NewCacheNode(sys, "cache-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*kv.KVNode{store, cache} {
		if err := sys.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	if !store.Real() || store.Server() != srv || !alive(store.Pid()) {
		t.Fatalf("want a running redis-server %s, got real=%v pid %d", srv.Version, store.Real(), store.Pid())
	}
	if d := store.Snap().Detail.String(); !strings.Contains(d, "redis-server "+srv.Version) {
		t.Errorf("detail %q does not name the server", d)
	}
	if store.ServerTTL(time.Minute) != 0 {
		t.Errorf("a real server must be given no TTLs")
	}
	for _, n := range []*kv.KVNode{store, cache} {
		if err := client(t, n).Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	addr, pid := store.Addr(), store.Pid()
	if err := store.Kill(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("pid %d still runs (or is unreaped) after a kill", pid)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial a killed server: %v, want connection refused", err)
	}
	if err := cache.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*kv.KVNode{store, cache} {
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	enginetest.Eventually(t, "both back up", 10*time.Second, func() bool {
		return store.State() == engine.StateUp && cache.State() == engine.StateUp
	})
	if store.Addr() != addr || store.Pid() == pid || !alive(store.Pid()) {
		t.Fatalf("restart: %s pid %d, was %s pid %d", store.Addr(), store.Pid(), addr, pid)
	}
	if v, err := client(t, store).Get(ctx, "k").Result(); v != "v" {
		t.Errorf("persistent node after a kill: k = %q (%v), want the acknowledged v", v, err)
	}
	if n, err := cache.DBSize(ctx); n != 0 || err != nil {
		t.Errorf("cache node after a kill holds %d keys (%v), want none", n, err)
	}

	pids, dirs := []int{store.Pid(), cache.Pid()}, []string{store.Dir(), cache.Dir()}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range pids {
		if alive(p) {
			t.Errorf("pid %d runs after close", p)
		}
		if _, err := os.Stat(dirs[i]); !os.IsNotExist(err) {
			t.Errorf("%s left after close (%v)", dirs[i], err)
		}
	}
	if _, err := os.Stat(sys.Dir); !os.IsNotExist(err) {
		t.Errorf("lab dir %s left after close", sys.Dir)
	}
}

func TestCheckServer(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "redis-server")
	if err := os.WriteFile(plain, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "old-redis")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'Redis server v=6.2.14 sha=0 malloc=libc bits=64'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "not found"},
		{plain, "not executable"},
		{fake, "6.2.14; the lab needs 7"},
		{other, `says "hello"`},
	} {
		_, err := kv.CheckServer(tc.path)
		if !errors.Is(err, kv.ErrBadServer) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if s, err := kv.CheckServer(""); err != nil || s.Real() {
		t.Errorf(`"" is miniredis: %v %v`, s, err)
	}
}
