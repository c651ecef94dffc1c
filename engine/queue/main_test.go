package queue

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/logging"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/internal/testlock"
)

// TestMain silences go-redis (these tests kill nodes on purpose) and runs
// while no other package's load tests run: the benchmarks measure
// throughput.
func TestMain(m *testing.M) {
	logging.Disable()
	os.Exit(testlock.Main(m))
}

// newQueue is a broker and a work queue on a system running at speed
// (paused when speed is 0).
func newQueue(t testing.TB, speed float64, edit func(*WorkConfig)) (*engine.System, *WorkQueue) {
	t.Helper()
	var sys *engine.System
	if speed > 0 {
		sys = enginetest.System(t, speed)
	} else {
		var err error
		if sys, err = engine.NewSystem(1); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sys.Close() })
	}
	b, err := NewBroker(sys, "broker")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultWorkConfig()
	if edit != nil {
		edit(&cfg)
	}
	q, err := NewWorkQueue(sys, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sys, q
}

// enqueue adds n orders numbered from first.
func enqueue(t testing.TB, q *WorkQueue, first, n int) {
	t.Helper()
	for i := range n {
		if _, err := q.Enqueue(context.Background(), Msg{Order: int64(first + i), Seq: 1, Kind: "order", Amount: 100}); err != nil {
			t.Fatal(err)
		}
	}
}

// stats reads the queue's counters now.
func stats(q *WorkQueue) WorkStats { return q.Audit(context.Background()) }

// within is the real time a test waits for something the lab clock makes
// happen in a few lab seconds.
const within = 20 * time.Second
