package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// takeAs reads up to n new messages as consumer name, as a worker that
// then dies would: they stay pending under its name.
func takeAs(t testing.TB, q *WorkQueue, name string, n int64) int {
	t.Helper()
	xs, err := q.b.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: q.cfg.Group, Consumer: name, Streams: []string{q.cfg.Stream, ">"}, Count: n, Block: -1}).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, s := range xs {
		got += len(s.Messages)
	}
	return got
}

// While the lab clock is paused the broker's time stands still: messages a
// dead worker holds never grow idle past the visibility timeout, and the
// reaper, however often it runs, redelivers nothing.
func TestPausedClockRedeliversNothing(t *testing.T) {
	_, q := newQueue(t, 0, func(c *WorkConfig) { c.Visibility = time.Millisecond })
	enqueue(t, q, 1, 20)
	if got := takeAs(t, q, "gone", 20); got != 20 {
		t.Fatalf("took %d messages, want 20", got)
	}
	ctx := context.Background()
	before := q.Next(ctx, 20)
	for range 200 {
		q.Reap(ctx)
	}
	after := q.Next(ctx, 20)
	if st := stats(q); st.Redelivered != 0 || st.Depth != 20 || st.Lost != 0 {
		t.Fatalf("paused: redelivered %d, depth %d, lost %d; want 0, 20, 0", st.Redelivered, st.Depth, st.Lost)
	}
	for i := range after {
		if after[i].Idle != before[i].Idle || after[i].Consumer != "gone" || after[i].Deliveries != 1 {
			t.Fatalf("paused: %s idle %s → %s, held by %q with %d deliveries; want unchanged, gone, 1", after[i].ID, before[i].Idle, after[i].Idle, after[i].Consumer, after[i].Deliveries)
		}
	}
}

// A dead worker's messages go to a live one once they have been idle for
// the visibility timeout of lab time, not before; every one is then
// handled and nothing is lost.
func TestReaperRedeliversAfterTheVisibilityTimeout(t *testing.T) {
	t.Parallel()
	sys, q := newQueue(t, 4, func(c *WorkConfig) { c.Visibility = 3 * time.Second })
	enqueue(t, q, 1, 8)
	took := sys.Clock.Now()
	if got := takeAs(t, q, "gone", 8); got != 8 {
		t.Fatalf("took %d messages, want 8", got)
	}
	if _, err := q.AddWorker("worker-1"); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "every message acked", within, func() bool { return stats(q).Acked == 8 })
	var at time.Duration
	for _, e := range sys.Events.All() {
		if e.Kind == EvRedeliver && at == 0 {
			at = e.T
		}
	}
	if at == 0 || at-took < 3*time.Second {
		t.Fatalf("first redelivery at %s, %s after the messages were taken: want at least the 3 s visibility timeout", at, at-took)
	}
	st := stats(q)
	if st.Redelivered != 8 || st.Lost != 0 || st.Depth != 0 || st.Duplicates != 0 {
		t.Fatalf("redelivered %d, lost %d, depth %d, duplicates %d; want 8, 0, 0, 0", st.Redelivered, st.Lost, st.Depth, st.Duplicates)
	}
}

// A message no worker can handle is delivered MaxTries times, then moved
// to the dead-letter stream with its tries, ACKed and deleted.
func TestPoisonMessageIsDeadLetteredAfterMaxTries(t *testing.T) {
	t.Parallel()
	sys, q := newQueue(t, 4, func(c *WorkConfig) { c.Visibility, c.MaxTries = time.Second, 3 })
	if _, err := q.AddWorker("worker-1"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, 1, 5)
	if err := sys.Apply(engine.Action{Kind: ActPoison}); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "poison message dead-lettered", within, func() bool { return stats(q).DeadLettered == 1 })
	st := stats(q)
	if st.Failures != 3 || st.Acked != 5 || st.Lost != 0 || st.Depth != 0 {
		t.Fatalf("failures %d, acked %d, lost %d, depth %d; want 3, 5, 0, 0", st.Failures, st.Acked, st.Lost, st.Depth)
	}
	dead, err := q.b.rdb.XRange(context.Background(), q.DeadStream(), "-", "+").Result()
	if err != nil || len(dead) != 1 || dead[0].Values["tries"] != "3" || dead[0].Values["kind"] != "malformed" {
		t.Fatalf("dead-letter stream: %v, %v; want the malformed message with tries 3", dead, err)
	}
}

// playKills enqueues n messages while killing and restarting workers with
// messages in hand, and waits for every message to be acked.
func playKills(t *testing.T, idem bool, n, kills int) WorkStats {
	sys, q := newQueue(t, 4, func(c *WorkConfig) { c.Visibility = time.Second })
	q.SetIdempotent(idem)
	var ws []*Worker
	for _, name := range []string{"worker-1", "worker-2", "worker-3"} {
		w, err := q.AddWorker(name)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	per, killed := n/kills, 0
	for k := range kills {
		enqueue(t, q, k*per+1, per)
		w := ws[k%len(ws)]
		// killed after the effect of what it holds, before the ACK
		enginetest.Eventually(t, w.Name()+" holding done messages", within, func() bool { return w.State() == engine.StateUp && w.Unacked() > 0 })
		if err := w.Kill(); err != nil {
			t.Fatal(err)
		}
		killed++
		if err := w.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	if killed != kills {
		t.Fatalf("%d kills, want %d", killed, kills)
	}
	deadline := time.Now().Add(within)
	for st := stats(q); st.Acked+st.DeadLettered != int64(n); st = stats(q) {
		if time.Now().After(deadline) {
			for _, e := range q.Next(context.Background(), 10) {
				t.Logf("left: %+v", e)
			}
			t.Fatalf("not every message acked or dead-lettered: %+v", stats(q))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(eventsOf(sys, engine.EvKill)); got != kills {
		t.Fatalf("%d kill events, want %d", got, kills)
	}
	return stats(q)
}

// Twenty worker kills under load lose no message: what a dead worker held
// is redelivered (and a message caught by three kills goes to the
// dead-letter stream, as its tries are used up). Without idempotent handling a message whose effect was
// done before the kill is done again (a double effect); with it, none is.
func TestWorkerKillsLoseNothing(t *testing.T) {
	for _, idem := range []bool{false, true} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			t.Parallel()
			checkKills(t, idem, playKills(t, idem, 600, 20))
		})
	}
}

// checkKills checks what twenty kills left.
func checkKills(t *testing.T, idem bool, st WorkStats) {
	t.Logf("idempotent %v: %+v", idem, st)
	if st.Lost != 0 || st.Depth != 0 || st.Redelivered < 20 {
		t.Errorf("idempotent %v: lost %d, depth %d, redelivered %d; want 0, 0, some", idem, st.Lost, st.Depth, st.Redelivered)
	}
	if st.Acked+st.DeadLettered != st.Enqueued {
		t.Errorf("idempotent %v: %d acked + %d dead-lettered, want the %d enqueued", idem, st.Acked, st.DeadLettered, st.Enqueued)
	}
	if st.Deliveries != st.Enqueued+st.Redelivered {
		t.Errorf("idempotent %v: %d deliveries, want every message once (%d) plus every redelivery (%d)", idem, st.Deliveries, st.Enqueued, st.Redelivered)
	}
	if idem && (st.DoubleEffects != 0 || st.Skipped != st.Duplicates) {
		t.Errorf("idempotent: %d double effects, %d of %d duplicates skipped; want 0 and all", st.DoubleEffects, st.Skipped, st.Duplicates)
	}
	if !idem && (st.Duplicates == 0 || st.DoubleEffects != st.Duplicates) {
		t.Errorf("not idempotent: %d duplicates, %d double effects; want some, all of them", st.Duplicates, st.DoubleEffects)
	}
}

// eventsOf lists the system's events of a kind.
func eventsOf(sys *engine.System, kind engine.EventKind) []engine.Event {
	var out []engine.Event
	for _, e := range sys.Events.All() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
