package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
)

// WorkConfig describes a work queue.
type WorkConfig struct {
	Stream string // "jobs"
	Group  string // "workers"
	// Work is a message's modelled handling time (an email, an image, a
	// payment call). Its effect happens halfway: a worker that dies after
	// it and before its ACK leaves a done message to be redelivered.
	Work time.Duration
	// Slots is how many messages a worker handles at once.
	Slots int
	// Visibility is how long a message may sit with a silent worker
	// before the reaper hands it to another.
	Visibility time.Duration
	// MaxTries is how many deliveries a message gets before it goes to
	// the dead-letter stream.
	MaxTries int
	// Poll is how often an idle worker asks for messages (lab time).
	Poll time.Duration
}

// DefaultWorkConfig: 200 ms of work, 4 at a time per worker, a 5 s
// visibility timeout and 3 tries.
func DefaultWorkConfig() WorkConfig {
	return WorkConfig{Stream: "jobs", Group: "workers", Work: 200 * time.Millisecond, Slots: 4, Visibility: 5 * time.Second, MaxTries: 3, Poll: 20 * time.Millisecond}
}

// WorkStats are a work queue's counters since it started.
type WorkStats struct {
	Enqueued      int64 // messages the broker accepted
	Acked         int64 // handled, ACKed and deleted
	Deliveries    int64 // messages handed to a worker (reads and redeliveries)
	Redelivered   int64 // handed on by the reaper from a silent worker
	Duplicates    int64 // deliveries of a message whose effect was already done
	DoubleEffects int64 // effects done a second time (or more)
	Skipped       int64 // duplicates idempotent handling turned into no-ops
	DeadLettered  int64
	Failures      int64 // handlings that failed (a poison message)
	Depth         int64 // in the stream now: waiting or in a worker's hands
	MaxDepth      int64
	Lost          int64 // accepted, not acked nor dead-lettered, not in the stream
}

// WorkQueue is a Redis stream read by one consumer group, whose consumers
// are workers: each message is handled once by one of them, then ACKed and
// deleted.
type WorkQueue struct {
	b   *Broker
	sys *engine.System
	cfg WorkConfig

	mu        sync.Mutex
	workers   []*Worker
	next      int // round robin for redeliveries
	st        WorkStats
	idem      bool
	done      map[string]int  // effects done, by idempotency key
	open      map[string]bool // accepted ids not yet acked or dead-lettered
	early     map[string]bool // acked before Enqueue recorded them
	checked   time.Duration   // when Stats last looked for lost messages
	poisonSeq int64
	// delivered is the lab time of each pending message's latest delivery:
	// on a real server, whose idle times count wall time, the reaper's
	// visibility timeout counts from it
	delivered map[string]time.Duration
}

// NewWorkQueue creates the stream and its group on the broker and starts
// the reaper on the lab clock.
func NewWorkQueue(sys *engine.System, b *Broker, cfg WorkConfig) (*WorkQueue, error) {
	q := &WorkQueue{b: b, sys: sys, cfg: cfg, done: map[string]int{}, open: map[string]bool{}, early: map[string]bool{},
		delivered: map[string]time.Duration{}}
	err := b.do(func() error { return b.rdb.XGroupCreateMkStream(sys.Context(), cfg.Stream, cfg.Group, "0").Err() })
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", cfg.Stream, err)
	}
	sys.Go(func(ctx context.Context) {
		sys.Clock.Every(ctx, time.Second, func(time.Duration) { q.Reap(ctx) })
	})
	sys.Handle(ActPoison, func(engine.Action) error { return q.Poison(sys.Context()) })
	return q, nil
}

// Config is the queue's configuration.
func (q *WorkQueue) Config() WorkConfig { return q.cfg }

// SetIdempotent turns idempotent handling on or off: with it a worker
// records each message's key with its effect and skips a key already done.
func (q *WorkQueue) SetIdempotent(on bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.idem = on
}

// Enqueue appends a message.
func (q *WorkQueue) Enqueue(ctx context.Context, m Msg) (string, error) {
	var id string
	err := q.b.do(func() error {
		var err error
		id, err = q.b.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.cfg.Stream, Values: m.values()}).Result()
		return err
	})
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	q.st.Enqueued++
	if q.early[id] {
		delete(q.early, id)
	} else {
		q.open[id] = true
	}
	q.mu.Unlock()
	return id, nil
}

// Poison enqueues one message no worker can handle.
func (q *WorkQueue) Poison(ctx context.Context) error {
	q.mu.Lock()
	q.poisonSeq--
	order := q.poisonSeq
	q.mu.Unlock()
	_, err := q.Enqueue(ctx, Msg{Order: order, Seq: 1, Kind: "malformed", Poison: true, At: q.sys.Clock.Now()})
	if err == nil {
		q.sys.Events.Add(engine.EvInfo, q.cfg.Stream, engine.Textf("queue.poisoned", "a malformed order joined the queue"))
	}
	return err
}

// effect does a message's effect and counts duplicates. With idempotent
// handling the worker first records the message's key in the broker
// (SADD to the stream's done-keys set), in the same step as the effect,
// and a key already there makes the delivery a no-op.
func (q *WorkQueue) effect(ctx context.Context, m Msg) error {
	q.mu.Lock()
	idem := q.idem
	q.mu.Unlock()
	k := m.Key()
	fresh := true
	if idem {
		err := q.b.do(func() error {
			n, err := q.b.rdb.SAdd(ctx, q.cfg.Stream+":done-keys", k).Result()
			fresh = n == 1
			return err
		})
		if err != nil {
			return err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done[k] > 0 || !fresh {
		q.st.Duplicates++
		if !fresh {
			q.st.Skipped++
			return nil
		}
		q.st.DoubleEffects++
	}
	q.done[k]++
	return nil
}

// EffectInline does an order's effect inside the request that took it
// (no queue): counted as done once.
func (q *WorkQueue) EffectInline(m Msg) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done[m.Key()]++
}

// ack deletes a handled message. The broker's XACK reply says whether it
// was still pending: a second worker's ACK of the same message counts
// nothing.
func (q *WorkQueue) ack(ctx context.Context, m Msg) error {
	var n int64
	err := q.b.do(func() error {
		pipe := q.b.rdb.TxPipeline()
		ack := pipe.XAck(ctx, q.cfg.Stream, q.cfg.Group, m.ID)
		pipe.XDel(ctx, q.cfg.Stream, m.ID)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		n = ack.Val()
		return nil
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.st.Acked += n
	q.close(m.ID)
	q.mu.Unlock()
	return nil
}

// close marks an id done; an id done before its producer recorded it (a
// fast worker) is remembered so that the producer does not open it. mu is
// held.
func (q *WorkQueue) close(id string) {
	delete(q.delivered, id)
	if q.open[id] {
		delete(q.open, id)
	} else {
		q.early[id] = true
	}
}

func (q *WorkQueue) count(f func(s *WorkStats)) {
	q.mu.Lock()
	f(&q.st)
	q.mu.Unlock()
}

// Stats counts the queue; its depth is read from the broker now (XLEN).
// Lost is checked against the stream's ids when the messages the queue
// accepted and has not finished outnumber the stream's entries (a loss
// shows there first; so does an ACK between its XDEL and its count), at
// most once a lab second, and always by Audit.
func (q *WorkQueue) Stats(ctx context.Context) WorkStats { return q.stats(ctx, false) }

// Audit is Stats with the accepted, unfinished messages each looked for
// in the stream.
func (q *WorkQueue) Audit(ctx context.Context) WorkStats { return q.stats(ctx, true) }

func (q *WorkQueue) stats(ctx context.Context, full bool) WorkStats {
	// the accepted, unfinished ids, taken before the stream is read: each
	// was added before, so it is in the stream unless it was lost or
	// finished meanwhile
	q.mu.Lock()
	now := q.sys.Clock.Now()
	var ids []string
	for id := range q.open {
		ids = append(ids, id)
	}
	q.mu.Unlock()
	var n int64
	err := q.b.do(func() error {
		var err error
		n, err = q.b.rdb.XLen(ctx, q.cfg.Stream).Result()
		return err
	})
	if err != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.st
	}
	q.mu.Lock()
	lost := int64(0)
	due := full || (int64(len(ids)) > n && now-q.checked >= time.Second)
	if due {
		q.checked = now
	} else if int64(len(ids)) > n {
		lost = q.st.Lost // not looked at again yet
	}
	q.mu.Unlock()
	if due {
		in := map[string]bool{}
		err = q.b.do(func() error {
			xs, err := q.b.rdb.XRange(ctx, q.cfg.Stream, "-", "+").Result()
			for _, x := range xs {
				in[x.ID] = true
			}
			return err
		})
		q.mu.Lock()
		for _, id := range ids {
			if !in[id] && q.open[id] {
				lost++
			}
		}
		q.mu.Unlock()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.st.Depth = n
	q.st.MaxDepth = max(q.st.MaxDepth, n)
	if err == nil {
		q.st.Lost = lost
	}
	return q.st
}

// add registers a worker; remove takes it out.
func (q *WorkQueue) add(w *Worker) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.workers = append(q.workers, w)
}

func (q *WorkQueue) remove(w *Worker) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.workers = slices.DeleteFunc(q.workers, func(x *Worker) bool { return x == w })
}

// Workers are the queue's workers, in the order they were added.
func (q *WorkQueue) Workers() []*Worker {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.workers)
}

// Pending is each worker's count of messages delivered and not yet ACKed,
// as the broker holds them.
func (q *WorkQueue) Pending(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	_ = q.b.do(func() error {
		p, err := q.b.rdb.XPending(ctx, q.cfg.Stream, q.cfg.Group).Result()
		if err != nil {
			return err
		}
		for c, n := range p.Consumers {
			out[c] = n
		}
		return nil
	})
	return out
}

// Next lists up to n messages at the head of the stream with their
// delivery counts and idle times (lab time), for the inspector.
func (q *WorkQueue) Next(ctx context.Context, n int) []Entry {
	out := peek(ctx, q.b, q.cfg.Stream, q.cfg.Group, n)
	if q.b.node.Real() { // the server's idle times are wall time: the lab's own
		now := q.sys.Clock.Now()
		q.mu.Lock()
		for i, e := range out {
			if e.Consumer != "" {
				out[i].Idle = q.labIdle(e.ID, now)
			}
		}
		q.mu.Unlock()
	}
	return out
}

// labIdle is how long a pending message has been idle in lab time, from
// its latest delivery the lab recorded; a delivery the lab has no record of
// (read outside a worker, or its record on the way) counts from now. mu is
// held.
func (q *WorkQueue) labIdle(id string, now time.Duration) time.Duration {
	at, ok := q.delivered[id]
	if !ok {
		q.delivered[id], at = now, now
	}
	return now - at
}

// noteDelivered records that the messages were delivered at lab time now.
func (q *WorkQueue) noteDelivered(ids []string, now time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		q.delivered[id] = now
	}
}

// Entry is a message at the head of a stream as the broker holds it.
type Entry struct {
	ID         string
	Msg        Msg
	Consumer   string // "" when not yet delivered
	Deliveries int64
	Idle       time.Duration
}

func peek(ctx context.Context, b *Broker, stream, group string, n int) []Entry {
	var out []Entry
	_ = b.do(func() error {
		xs, err := b.rdb.XRangeN(ctx, stream, "-", "+", int64(n)).Result()
		if err != nil || len(xs) == 0 {
			return err
		}
		pend, err := b.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Start: xs[0].ID, End: xs[len(xs)-1].ID, Count: int64(n)}).Result()
		if err != nil {
			return err
		}
		by := map[string]redis.XPendingExt{}
		for _, p := range pend {
			by[p.ID] = p
		}
		for _, x := range xs {
			e := Entry{ID: x.ID, Msg: parseMsg(stream, x)}
			if p, ok := by[x.ID]; ok {
				e.Consumer, e.Deliveries, e.Idle = p.Consumer, p.RetryCount, p.Idle
			}
			out = append(out, e)
		}
		return nil
	})
	return out
}
