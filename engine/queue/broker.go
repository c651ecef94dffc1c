package queue

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
	"scalelab/engine/kv"
)

// epoch is the broker's wall time at lab time 0: stream ids and idle times
// are lab milliseconds from it (on miniredis; a real server keeps its wall
// clock, see NewBroker).
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Broker is a Redis server holding the streams, with its time driven by
// the lab clock (so idle times, and the reaper, follow the lab clock and
// stop while it is paused), and the client every producer and consumer
// shares.
type Broker struct {
	node  *kv.KVNode
	rdb   *redis.Client
	clock *engine.Clock

	mu   sync.Mutex
	last time.Duration // the latest lab time given to the server
}

// NewBroker starts a broker node and adds it to the system.
func NewBroker(sys *engine.System, name string) (*Broker, error) {
	node, err := kv.NewNodeAs(sys, name, RoleBroker)
	if err != nil {
		return nil, err
	}
	b := &Broker{node: node, clock: sys.Clock}
	b.Sync()
	if node.Real() {
		node.SetClockNote(engine.Textf("queue.broker.clock", "stream ids: wall-clock ms (for order only); idle times and the visibility timeout: lab time, from the lab's record of each delivery"))
	}
	// a dead broker fails a command at once rather than after retries
	b.rdb = redis.NewClient(&redis.Options{Addr: node.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 64})
	sys.OnClose(b.rdb.Close)
	if err := sys.AddNode(node); err != nil {
		return nil, err
	}
	sys.Go(func(ctx context.Context) {
		sys.Clock.Every(ctx, 50*time.Millisecond, func(time.Duration) { b.Sync() })
	})
	return b, nil
}

// Sync gives the server the lab's time, never going back (miniredis; a
// real server keeps its own).
func (b *Broker) Sync() {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now > b.last {
		b.last = now
	}
	b.node.SetTime(epoch.Add(b.last))
}

// Node is the broker's node; Client its shared client.
func (b *Broker) Node() *kv.KVNode      { return b.node }
func (b *Broker) Client() *redis.Client { return b.rdb }

// do runs one command with the server's time brought up to the lab's, and
// counts it on the broker's node.
func (b *Broker) do(fn func() error) error {
	b.Sync()
	start := b.clock.Now()
	err := fn()
	if err == redis.Nil {
		err = nil
	}
	b.node.Record(b.clock.Now()-start, err)
	return err
}
