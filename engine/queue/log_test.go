package queue

import (
	"context"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// newLog is a broker and an event log on a system at speed 4.
func newLog(t testing.TB) (*engine.System, *EventLog) {
	t.Helper()
	sys := enginetest.System(t, 4)
	b, err := NewBroker(sys, "broker")
	if err != nil {
		t.Fatal(err)
	}
	return sys, NewEventLog(sys, b, "orders")
}

// appendOrders appends orders first..first+n-1, each with its events.
func appendOrders(t testing.TB, l *EventLog, first, n int, kinds ...string) {
	t.Helper()
	for i := range n {
		var ms []Msg
		for j, k := range kinds {
			ms = append(ms, Msg{Order: int64(first + i), Seq: j + 1, Kind: k, Amount: int64(100 + first + i)})
		}
		if err := l.Append(context.Background(), ms); err != nil {
			t.Fatal(err)
		}
	}
}

func addGroup(t testing.TB, l *EventLog, cfg GroupConfig) *Group {
	t.Helper()
	g, err := l.AddGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// refreshed reads a group's state with its lag read from the broker now.
func refreshed(t testing.TB, g *Group) GroupState {
	t.Helper()
	if err := g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return g.State()
}

// A killed consumer's lag grows by every event appended while it is down,
// the other group's does not, and on restart it catches up from its
// position: every event applied exactly once, none missed.
func TestLagGrowsWhileAConsumerIsDownAndItCatchesUp(t *testing.T) {
	t.Parallel()
	_, l := newLog(t)
	pay := addGroup(t, l, GroupConfig{Name: "payments", Pace: time.Millisecond})
	ana := addGroup(t, l, GroupConfig{Name: "analytics", Pace: time.Millisecond})
	appendOrders(t, l, 1, 50, "completed")
	enginetest.Eventually(t, "both groups caught up", within, func() bool {
		return refreshed(t, pay).Lag == 0 && refreshed(t, ana).Lag == 0 && ana.State().Applied == 50 && pay.State().Applied == 50
	})
	c := ana.Consumers()[0]
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	appendOrders(t, l, 51, 40, "completed")
	enginetest.Eventually(t, "payments caught up", within, func() bool { return refreshed(t, pay).Lag == 0 && pay.State().Applied == 90 })
	if st := refreshed(t, ana); st.Lag != 40 || st.Applied != 50 {
		t.Fatalf("analytics down: lag %d, applied %d; want 40, 50", st.Lag, st.Applied)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "analytics caught up", within, func() bool { return refreshed(t, ana).Lag == 0 && ana.State().Applied == 90 })
	for _, g := range []*Group{pay, ana} {
		if once, more, none := g.Audit(); once != 90 || more != 0 || none != 0 {
			t.Errorf("%s: %d events applied once, %d more often, %d never; want 90, 0, 0", g.Name(), once, more, none)
		}
	}
	if st := ana.State(); st.Revenue != pay.State().Revenue || st.Missed != 0 {
		t.Errorf("analytics revenue %d, payments %d, missed %d: want equal, 0 missed", st.Revenue, pay.State().Revenue, st.Missed)
	}
}

// A group added late replays the history the log kept and rebuilds the
// same state as a group that was there all along; with a retention it can
// replay only what was kept, and counts what it missed.
func TestLateGroupReplaysWhatRetentionKept(t *testing.T) {
	t.Parallel()
	_, l := newLog(t)
	pay := addGroup(t, l, GroupConfig{Name: "payments", Pace: time.Millisecond})
	appendOrders(t, l, 1, 60, "completed")
	rec := addGroup(t, l, GroupConfig{Name: "recommendations", Pace: time.Millisecond})
	appendOrders(t, l, 61, 20, "completed")
	enginetest.Eventually(t, "recommendations caught up", within, func() bool {
		return refreshed(t, rec).Lag == 0 && rec.State().Applied == 80 && pay.State().Applied == 80
	})
	if st := rec.State(); st.Replayed != 60 {
		t.Fatalf("recommendations replayed %d events, want the 60 appended before it joined", st.Replayed)
	}
	if n, ok := rec.Matches(pay); n != 80 || !ok {
		t.Fatalf("rebuilt state matches payments' over %d events (%v), want 80, true", n, ok)
	}
	// keep 30 events, then replay: only those 30 come back
	l.SetRetention(30)
	if err := rec.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "replay done", within, func() bool { return refreshed(t, rec).Lag == 0 && rec.State().Applied == 30 })
	if st := rec.State(); st.Replayed != 30 || st.Replays != 1 {
		t.Fatalf("after the reset: replayed %d, replays %d; want 30, 1", st.Replayed, st.Replays)
	}
	if once, more, none := rec.Audit(); once != 30 || more != 0 || none != 0 {
		t.Fatalf("replayed group: %d kept events once, %d more, %d never; want 30, 0, 0", once, more, none)
	}
	if n, ok := rec.Matches(pay); n != 30 || !ok {
		t.Fatalf("replayed state matches payments' over %d events (%v), want 30, true", n, ok)
	}
}

// Several consumers sharing one stream apply an order's events out of
// order; with the log partitioned by order, one consumer per partition,
// every order's events are applied in order.
func TestPartitionsKeepEachOrdersEventsInOrder(t *testing.T) {
	t.Parallel()
	_, l := newLog(t)
	ship := addGroup(t, l, GroupConfig{Name: "shipping", Consumers: 4, Batch: 1, Pace: 2 * time.Millisecond, Jitter: 20 * time.Millisecond, Seed: 3, Poll: 5 * time.Millisecond})
	appendOrders(t, l, 1, 100, "created", "paid", "shipped")
	enginetest.Eventually(t, "one stream consumed", within, func() bool { return ship.State().Applied == 300 })
	l.SetPartitions(4)
	appendOrders(t, l, 101, 100, "created", "paid", "shipped")
	enginetest.Eventually(t, "partitions consumed", within, func() bool { return ship.State().Applied == 600 })
	st := ship.State()
	t.Logf("out of order: %d of %d on one stream, %d of %d on 4 partitions", st.OutOfOrder[1], st.Events[1], st.OutOfOrder[4], st.Events[4])
	if st.OutOfOrder[1] == 0 || st.Events[1] != 300 {
		t.Errorf("one stream, four consumers: %d of %d events out of order, want some of 300", st.OutOfOrder[1], st.Events[1])
	}
	if st.OutOfOrder[4] != 0 || st.Events[4] != 300 {
		t.Errorf("four partitions: %d of %d events out of order, want 0 of 300", st.OutOfOrder[4], st.Events[4])
	}
	if len(l.Streams()) != 5 {
		t.Errorf("streams %v, want orders and orders:0..3", l.Streams())
	}
}
