package shard

import (
	"fmt"
	"os"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/internal/testlock"
)

// TestMain runs these tests while no other package's load tests run: they
// drive real writes through real shards, and the benchmarks measure
// throughput.
func TestMain(m *testing.M) { os.Exit(testlock.Main(m)) }

// within is the real time a test waits for what the lab clock makes
// happen in a few lab seconds.
const within = 20 * time.Second

// shardConfig is shard-i: a small machine with a short modelled service
// time.
func shardConfig(i int) Config {
	return Config{Name: fmt.Sprintf("shard-%d", i), Size: "small",
		Work: engine.WorkModel{Read: 2 * time.Millisecond, Feed: 2 * time.Millisecond, Write: 4 * time.Millisecond}}
}

// testShape is the seed of the tests that measure a move's share: enough
// users that the share is near its theory, few enough rows (5,500) to seed
// and move quickly under the race detector.
func testShape() Shape { return Shape{Users: 500, PostsPerUser: 2, Follows: 4} }

// smallShape is the seed of the other integration tests (1,800 rows).
func smallShape() Shape { return Shape{Users: 200, PostsPerUser: 2, Follows: 3} }

// newRouter is a router over n shards seeded with shape under layout l, on
// a system running at speed. Range layouts get the shape's users.
func newRouter(t testing.TB, speed float64, shape Shape, l Layout, n int, moveRate float64) (*engine.System, *Router) {
	t.Helper()
	sys := enginetest.System(t, speed)
	if l.Users == 0 {
		l.Users = shape.Users
	}
	cfg := RouterConfig{Shape: shape, Seed: 1, Layout: l, MoveRate: moveRate}
	for i := 1; i <= n; i++ {
		cfg.Shards = append(cfg.Shards, shardConfig(i))
	}
	r, err := NewRouter(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sys, r
}

func moduloLayout() Layout { return Layout{Strategy: Modulo, Key: KeyUser, VNodes: 64} }
