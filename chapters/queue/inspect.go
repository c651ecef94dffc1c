package queue

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"scalelab/engine"
)

// brokerDetail is the broker's line in the node list: what its streams
// hold.
func (l *lab) brokerDetail() engine.Text {
	if l.q != nil {
		st := l.q.Stats(context.Background())
		return engine.Textf("queue.broker.jobs", "redis streams · %d in %s · %d dead letters", st.Depth, l.q.Config().Stream, st.DeadLettered)
	}
	kept, _ := l.log.Kept()
	return engine.Textf("queue.broker.log", "redis streams · %d events kept in the log", kept)
}

// brokerLines are the inspector's lines on the broker: the next messages
// of the work queue with their ids, deliveries and idle times, or each
// consumer group's position and lag.
func (l *lab) brokerLines() []engine.Line {
	ctx := context.Background()
	var out []engine.Line
	if l.q != nil {
		// the reaper's rule and what each worker holds first: on a small
		// screen the inspector shows only its first lines
		cfg := l.q.Config()
		out = append(out, engine.Line{Label: engine.Textf("queue.reaper.label", "reaper"),
			Value: engine.Textf("queue.reaper.value", "every 1 s: idle past %s → another worker; %d tries → %s", cfg.Visibility, cfg.MaxTries, l.q.DeadStream())})
		if pend := l.q.Pending(ctx); len(pend) > 0 {
			// the broker's view: a dead worker's messages stay pending
			// under its name until the reaper hands them on
			var parts []string
			for _, w := range slices.Sorted(maps.Keys(pend)) {
				parts = append(parts, fmt.Sprintf("%s %d", w, pend[w]))
			}
			out = append(out, engine.Line{Label: engine.Textf("queue.pending.label", "pending (no ACK yet)"), Value: engine.Textf("queue.pending.value", "%s", strings.Join(parts, " · "))})
		}
		n := len(out)
		for _, e := range l.q.Next(ctx, 6) {
			v := engine.Textf("queue.next.waiting", "order %d · waiting", e.Msg.Order)
			if e.Consumer != "" {
				v = engine.Textf("queue.next.held", "order %d · %s · delivered %d× · idle %s", e.Msg.Order, e.Consumer, e.Deliveries, e.Idle.Round(100*time.Millisecond))
			}
			if e.Msg.Poison {
				v = engine.Textf("queue.next.poison", "malformed · %s · delivered %d× · idle %s", e.Consumer, e.Deliveries, e.Idle.Round(100*time.Millisecond))
			}
			out = append(out, engine.Line{Label: engine.Textf("queue.next.id", "%s", e.ID), Value: v})
		}
		if len(out) == n {
			out = append(out, engine.Line{Label: engine.Textf("queue.next.label", "next"), Value: engine.Textf("queue.next.empty", "the queue is empty")})
		}
	}
	if l.log != nil {
		for _, g := range l.log.Groups() {
			st := g.State()
			var at []string
			for _, s := range slices.Sorted(maps.Keys(st.Position)) {
				at = append(at, st.Position[s])
			}
			out = append(out, engine.Line{Label: engine.Textf("queue.group.label", "%s", st.Name),
				Value: engine.Textf("queue.group.value", "at %s · lag %d · applied %d · replayed %d", strings.Join(at, ","), st.Lag, st.Applied, st.Replayed)})
		}
		kept, _ := l.log.Kept()
		out = append(out, engine.Line{Label: engine.Textf("queue.log.label", "log"),
			Value: engine.Textf("queue.log.value", "%d appended · %d kept · %d streams", l.log.Appended(), kept, len(l.log.Streams()))})
	}
	return out
}
