package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrQueueFull is returned when a node's workers are busy and its queue is
// full; a web node answers 503.
var ErrQueueFull = errors.New("queue full")

// Capacity models a machine's size: a number of workers (concurrency) and a
// bounded queue in front of them. Handlers spend their modelled service time
// for real while they hold a worker, so queueing and saturation are real.
type Capacity struct {
	mu       sync.Mutex
	limit    int
	inUse    int
	maxQueue int
	waiters  []chan struct{}
	rejected atomic.Int64
}

// NewCapacity makes a capacity of workers and queue places.
func NewCapacity(workers, queue int) *Capacity {
	return &Capacity{limit: workers, maxQueue: queue}
}

// Acquire takes a worker, waiting in the queue if all are busy. It returns
// ErrQueueFull at once when the queue is full. release must be called once.
func (c *Capacity) Acquire(ctx context.Context) (release func(), err error) {
	c.mu.Lock()
	if c.inUse < c.limit {
		c.inUse++
		c.mu.Unlock()
		return c.release, nil
	}
	if len(c.waiters) >= c.maxQueue {
		c.mu.Unlock()
		c.rejected.Add(1)
		return nil, ErrQueueFull
	}
	ch := make(chan struct{})
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	select {
	case <-ch:
		return c.release, nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, w := range c.waiters {
			if w == ch {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				c.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		c.mu.Unlock()
		// granted while we gave up: hand the worker back
		c.release()
		return nil, ctx.Err()
	}
}

func (c *Capacity) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) > 0 && c.inUse <= c.limit {
		ch := c.waiters[0]
		c.waiters = c.waiters[1:]
		close(ch) // the worker passes straight to the first waiter
		return
	}
	c.inUse--
}

// Resize changes the number of workers and the queue length live.
func (c *Capacity) Resize(workers, queue int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit, c.maxQueue = workers, queue
	for c.inUse < c.limit && len(c.waiters) > 0 {
		ch := c.waiters[0]
		c.waiters = c.waiters[1:]
		c.inUse++
		close(ch)
	}
}

// Load returns workers busy, requests queued, the worker limit and the queue limit.
func (c *Capacity) Load() (busy, queued, limit, queueCap int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inUse, len(c.waiters), c.limit, c.maxQueue
}
