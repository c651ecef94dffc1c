package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
)

// Reap is the reaper's round, run every lab second: messages idle past the
// visibility timeout (their worker died or hung) go to the dead-letter
// stream once they have been delivered MaxTries times, and the others are
// claimed for live workers in turn and handed to them.
//
// Idle is lab time. miniredis' clock follows the lab's (Broker.Sync), so
// the broker's own idle times serve: XPENDING IDLE finds the messages and
// XAUTOCLAIM MIN-IDLE claims them. A real server's idle times count wall
// time, which runs faster than the lab's while its clock is slow or
// paused, and slower at 4x; there the lab counts idle time from the lab
// time it recorded for each delivery, and claims the ids it found idle with
// XCLAIM (min-idle 0, since the server's own idle time does not decide).
func (q *WorkQueue) Reap(ctx context.Context) {
	idle, err := q.idle(ctx)
	if err != nil || len(idle) == 0 {
		return
	}
	dead := 0
	var rest []string // idle and not dead-lettered
	for _, p := range idle {
		if p.RetryCount >= int64(q.cfg.MaxTries) && q.deadLetter(ctx, p) == nil {
			dead++
			continue
		}
		rest = append(rest, p.ID)
	}
	if dead > 0 {
		q.sys.Events.Add(EvDeadLetter, q.cfg.Stream, engine.Textf("queue.dead_lettered", "%d message(s) to %s after %d tries", dead, q.DeadStream(), q.cfg.MaxTries))
	}
	if len(idle) == dead {
		return
	}
	var live []*Worker
	for _, w := range q.Workers() {
		if w.State() == engine.StateUp {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return // nobody to hand them to: they wait in the broker
	}
	handed := 0
	for range len(idle) {
		q.mu.Lock()
		w := live[q.next%len(live)]
		q.next++
		q.mu.Unlock()
		var got []redis.XMessage
		if q.b.node.Real() {
			if len(rest) == 0 {
				break
			}
			n := min(len(rest), q.cfg.Slots)
			got, err = q.claim(ctx, w, rest[:n])
			rest = rest[n:]
		} else {
			err = q.b.do(func() error {
				var err error
				got, _, err = q.b.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: q.cfg.Stream, Group: q.cfg.Group, MinIdle: q.cfg.Visibility, Start: "0-0", Count: int64(q.cfg.Slots), Consumer: w.Name()}).Result()
				return err
			})
			if len(got) == 0 {
				break
			}
		}
		if err != nil {
			break
		}
		ids := make([]string, len(got))
		for i, x := range got {
			ids[i] = x.ID
		}
		q.noteDelivered(ids, q.sys.Clock.Now())
		for _, x := range got {
			select {
			case w.inbox <- parseMsg(q.cfg.Stream, x):
			default: // a full inbox: the message waits in the broker for the next round
			}
		}
		handed += len(got)
	}
	if handed > 0 {
		q.count(func(s *WorkStats) { s.Redelivered += int64(handed) })
		q.sys.Events.Add(EvRedeliver, q.cfg.Stream, engine.Textf("queue.redelivered", "%d message(s) idle past %s handed to live workers", handed, q.cfg.Visibility))
	}
}

// idle lists the pending messages idle past the visibility timeout, in lab
// time (see Reap).
func (q *WorkQueue) idle(ctx context.Context) ([]redis.XPendingExt, error) {
	real := q.b.node.Real()
	args := &redis.XPendingExtArgs{Stream: q.cfg.Stream, Group: q.cfg.Group, Idle: q.cfg.Visibility, Start: "-", End: "+", Count: 10000}
	if real {
		args.Idle = 0 // every pending message: the lab's times decide
	}
	var pend []redis.XPendingExt
	err := q.b.do(func() error {
		var err error
		pend, err = q.b.rdb.XPendingExt(ctx, args).Result()
		return err
	})
	if err != nil || !real {
		return pend, err
	}
	now := q.sys.Clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	idle := pend[:0]
	for _, p := range pend {
		if q.labIdle(p.ID, now) >= q.cfg.Visibility {
			idle = append(idle, p)
		}
	}
	return idle, nil
}

// claim hands the given idle messages to w on a real server (XCLAIM, which
// counts a delivery of each, as XAUTOCLAIM does). Messages a worker ACKed
// meanwhile are no longer pending and are not claimed.
func (q *WorkQueue) claim(ctx context.Context, w *Worker, ids []string) ([]redis.XMessage, error) {
	var got []redis.XMessage
	err := q.b.do(func() error {
		var err error
		got, err = q.b.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: q.cfg.Stream, Group: q.cfg.Group, Consumer: w.Name(), MinIdle: 0, Messages: ids}).Result()
		return err
	})
	return got, err
}

// DeadStream is the dead-letter stream's name.
func (q *WorkQueue) DeadStream() string { return q.cfg.Stream + ":dead" }

// deadLetter moves a message to the dead-letter stream with its tries. It
// ACKs first: a worker that ACKs the message meanwhile wins, and the
// message is counted once, as acked or as dead-lettered.
func (q *WorkQueue) deadLetter(ctx context.Context, p redis.XPendingExt) error {
	err := q.b.do(func() error {
		xs, err := q.b.rdb.XRange(ctx, q.cfg.Stream, p.ID, p.ID).Result()
		if err != nil {
			return err
		}
		if len(xs) == 0 {
			return fmt.Errorf("%s: gone", p.ID)
		}
		n, err := q.b.rdb.XAck(ctx, q.cfg.Stream, q.cfg.Group, p.ID).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%s: acked meanwhile", p.ID)
		}
		v := xs[0].Values
		v["tries"], v["from"] = p.RetryCount, p.ID
		pipe := q.b.rdb.TxPipeline()
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.DeadStream(), Values: v})
		pipe.XDel(ctx, q.cfg.Stream, p.ID)
		_, err = pipe.Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.close(p.ID)
	q.st.DeadLettered++
	q.mu.Unlock()
	return nil
}
