package queue

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
)

// useRealServer makes the test's broker a redis-server process (the one in
// SCALELAB_REDIS_SERVER, else redis-server on PATH) and puts the backend
// back after it; it skips without one unless SCALELAB_FIDELITY_REQUIRED=1.
// Not for parallel tests: the backend is process-wide.
func useRealServer(t *testing.T) {
	t.Helper()
	path := os.Getenv(kv.EnvServer)
	if path == "" {
		path, _ = exec.LookPath("redis-server")
	}
	if path == "" {
		if os.Getenv("SCALELAB_FIDELITY_REQUIRED") == "1" {
			t.Fatal("no redis-server and SCALELAB_FIDELITY_REQUIRED=1")
		}
		t.Skip("no redis-server installed")
	}
	prev, _ := kv.CurrentServer()
	if _, err := kv.UseServer(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.UseServer(prev.Path) })
}

// On a real redis-server, whose idle times count wall time, the visibility
// timeout still counts lab time: while the lab clock is paused, wall time
// passes the timeout and nothing is redelivered; once it runs, a dead
// worker's messages go to a live one after the timeout of lab time, not
// before.
func TestRealBrokerVisibilityCountsLabTime(t *testing.T) {
	useRealServer(t)
	sys, q := newQueue(t, 0, func(c *WorkConfig) { c.Visibility, c.Work = 200*time.Millisecond, 20*time.Millisecond })
	if !q.b.Node().Real() {
		t.Fatal("the broker is not a redis-server")
	}
	enqueue(t, q, 1, 5)
	if got := takeAs(t, q, "gone", 5); got != 5 {
		t.Fatalf("took %d messages, want 5", got)
	}
	// a live worker (its loop waits on the paused clock) the reaper could
	// hand them to
	if _, err := q.AddWorker("worker-1"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 4 {
		time.Sleep(100 * time.Millisecond) // wall time, which the server counts
		q.Reap(ctx)
	}
	if st := stats(q); st.Redelivered != 0 {
		t.Fatalf("paused: %d redelivered; want none", st.Redelivered)
	}
	for _, e := range q.Next(ctx, 5) {
		if e.Idle != 0 || e.Deliveries != 1 {
			t.Fatalf("paused: %s idle %s with %d deliveries; want 0 lab time and 1", e.ID, e.Idle, e.Deliveries)
		}
	}
	if err := sys.Clock.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	enginetest.Eventually(t, "every message acked", within, func() bool { return stats(q).Acked == 5 })
	var at time.Duration
	for _, e := range sys.Events.All() {
		if e.Kind == EvRedeliver && at == 0 {
			at = e.T
		}
	}
	if at < 200*time.Millisecond {
		t.Fatalf("first redelivery at %s of lab time; want the 200 ms visibility timeout", at)
	}
	if st := stats(q); st.Redelivered != 5 || st.Lost != 0 || st.Depth != 0 {
		t.Fatalf("redelivered %d, lost %d, depth %d; want 5, 0, 0", st.Redelivered, st.Lost, st.Depth)
	}
}
