package queue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
)

// Worker is a work queue's consumer: it asks the broker for new messages
// while it has a free slot, handles each for the queue's modelled work,
// does its effect halfway, and ACKs and deletes it at the end. Messages the
// reaper hands it arrive in its inbox.
type Worker struct {
	*member
	q       *WorkQueue
	inbox   chan Msg
	inHand  atomic.Int64
	done    atomic.Int64 // in hand with the effect done, not yet ACKed
	handled atomic.Int64
}

// AddWorker makes a worker, adds it to the system and starts it.
func (q *WorkQueue) AddWorker(name string) (*Worker, error) {
	w := &Worker{q: q, inbox: make(chan Msg, 4096)}
	w.member = newMember(q.sys, name, RoleWorker, w.run, w.status)
	if err := q.sys.AddNode(w); err != nil {
		return nil, err
	}
	q.add(w)
	return w, nil
}

// RemoveWorker takes a worker out of the system: what it held stays
// pending in the broker until the reaper hands it on.
func (q *WorkQueue) RemoveWorker(w *Worker) error {
	q.remove(w)
	return q.sys.RemoveNode(w.Name())
}

func (w *Worker) status() any {
	return map[string]any{"worker": w.Name(), "in_hand": w.inHand.Load(), "handled": w.handled.Load()}
}

// InHand is how many messages the worker is handling now.
func (w *Worker) InHand() int64 { return w.inHand.Load() }

// Unacked is how many messages in its hands have had their effect and
// wait for the rest of the work and the ACK.
func (w *Worker) Unacked() int64 { return w.done.Load() }

func (w *Worker) run(ctx context.Context) {
	q := w.q
	var wg sync.WaitGroup
	defer wg.Wait()
	clock := q.sys.Clock
	for {
		if clock.Sleep(ctx, q.cfg.Poll) != nil {
			return
		}
		free := int64(q.cfg.Slots) - w.inHand.Load()
		var batch []Msg
	inbox:
		for free > int64(len(batch)) {
			select {
			case m := <-w.inbox:
				batch = append(batch, m)
			default:
				break inbox
			}
		}
		if n := free - int64(len(batch)); n > 0 {
			var xs []redis.XStream
			err := q.b.do(func() error {
				var err error
				xs, err = q.b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: q.cfg.Group, Consumer: w.Name(), Streams: []string{q.cfg.Stream, ">"}, Count: n, Block: -1}).Result()
				return err
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				continue
			}
			var ids []string
			for _, s := range xs {
				for _, x := range s.Messages {
					batch = append(batch, parseMsg(s.Stream, x))
					ids = append(ids, x.ID)
				}
			}
			q.noteDelivered(ids, clock.Now())
		}
		for _, m := range batch {
			w.inHand.Add(1)
			q.count(func(s *WorkStats) { s.Deliveries++ })
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer w.inHand.Add(-1)
				w.handle(ctx, m)
			}()
		}
	}
}

// handle works on one message: half the work, the effect, the other half,
// then the ACK. A kill at any point stops it there.
func (w *Worker) handle(ctx context.Context, m Msg) {
	q := w.q
	clock := q.sys.Clock
	start := clock.Now()
	w.Begin()
	failed := true
	// the node's rate and latency are messages handled, as an HTTP
	// node's are requests
	defer func() { w.Done(clock.Now()-start, failed) }()
	if clock.Sleep(ctx, q.cfg.Work/2) != nil {
		return
	}
	if m.Poison {
		// it cannot be parsed: no effect, no ACK; it stays pending until
		// the reaper hands it on, or gives up on it
		q.count(func(s *WorkStats) { s.Failures++ })
		return
	}
	if q.effect(ctx, m) != nil {
		return
	}
	w.done.Add(1)
	defer w.done.Add(-1)
	if clock.Sleep(ctx, q.cfg.Work-q.cfg.Work/2) != nil {
		return
	}
	if q.ack(ctx, m) == nil {
		w.handled.Add(1)
		failed = false
	}
}

// Snap adds what the worker holds.
func (w *Worker) Snap() engine.NodeSnap {
	s := w.member.Snap()
	s.InFlight, s.Workers = w.inHand.Load(), w.q.cfg.Slots
	s.Detail = engine.Textf("queue.worker.detail", "%d in hand · %d handled", w.inHand.Load(), w.handled.Load())
	return s
}
