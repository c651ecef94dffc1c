package engine_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ctQueued polls until c has want waiters.
func ctQueued(t *testing.T, c *engine.Capacity, want int) {
	t.Helper()
	enginetest.Eventually(t, "waiters queued", 5*time.Second, func() bool {
		_, q, _, _ := c.Load()
		return q == want
	})
}

// ctLoad checks busy and queued.
func ctLoad(t *testing.T, c *engine.Capacity, busy, queued int) {
	t.Helper()
	b, q, _, _ := c.Load()
	if b != busy || q != queued {
		t.Fatalf("Load() busy=%d queued=%d, want busy=%d queued=%d", b, q, busy, queued)
	}
}

func TestCapacityMaxConcurrency(t *testing.T) {
	const workers, goroutines, rounds = 3, 64, 20
	c := engine.NewCapacity(workers, goroutines)
	var holders, maxSeen atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				release, err := c.Acquire(context.Background())
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				n := holders.Add(1)
				for {
					m := maxSeen.Load()
					if n <= m || maxSeen.CompareAndSwap(m, n) {
						break
					}
				}
				if b, _, _, _ := c.Load(); b > workers {
					t.Errorf("Load() busy = %d > %d workers", b, workers)
				}
				runtime.Gosched()
				holders.Add(-1)
				release()
			}
		}()
	}
	wg.Wait()
	if m := maxSeen.Load(); m > workers || m < 1 {
		t.Fatalf("max concurrent holders = %d, want 1..%d", m, workers)
	}
	ctLoad(t, c, 0, 0)
	if c.Rejected() != 0 {
		t.Fatalf("Rejected = %d with a queue as long as the crowd", c.Rejected())
	}
}

func TestCapacityQueueFull(t *testing.T) {
	c := engine.NewCapacity(1, 2)
	hold, err := c.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := c.Acquire(context.Background())
			got <- err
			if err == nil {
				release()
			}
		}()
	}
	ctQueued(t, c, 2)
	for i := 1; i <= 3; i++ {
		release, err := c.Acquire(context.Background())
		if !errors.Is(err, engine.ErrQueueFull) || release != nil {
			t.Fatalf("Acquire with a full queue = %v, want ErrQueueFull", err)
		}
		if c.Rejected() != int64(i) {
			t.Fatalf("Rejected = %d, want %d", c.Rejected(), i)
		}
	}
	ctLoad(t, c, 1, 2)
	hold()
	wg.Wait()
	for i := 0; i < 2; i++ {
		if err := <-got; err != nil {
			t.Fatalf("a queued waiter failed: %v", err)
		}
	}
	ctLoad(t, c, 0, 0)

	// no queue at all: busy means rejected at once
	z := engine.NewCapacity(1, 0)
	r, _ := z.Acquire(context.Background())
	if _, err := z.Acquire(context.Background()); !errors.Is(err, engine.ErrQueueFull) {
		t.Fatalf("queue 0: %v", err)
	}
	r()
}

func TestCapacityFIFO(t *testing.T) {
	const n = 8
	c := engine.NewCapacity(1, n)
	hold, _ := c.Acquire(context.Background())
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := c.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			release()
		}()
		ctQueued(t, c, i+1) // waiter i is in the queue before i+1 starts
	}
	hold()
	wg.Wait()
	for i, w := range order {
		if w != i {
			t.Fatalf("waiters served in order %v, want 0..%d", order, n-1)
		}
	}
	if len(order) != n {
		t.Fatalf("served %d of %d waiters", len(order), n)
	}
	ctLoad(t, c, 0, 0)
}

func TestCapacityResizeUpWakesWaiters(t *testing.T) {
	c := engine.NewCapacity(1, 10)
	hold, _ := c.Acquire(context.Background())
	releases := make(chan func(), 3)
	for i := 0; i < 3; i++ {
		go func() {
			release, err := c.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter: %v", err)
				return
			}
			releases <- release
		}()
	}
	ctQueued(t, c, 3)
	c.Resize(4, 10)
	var rs []func()
	for i := 0; i < 3; i++ {
		select {
		case r := <-releases:
			rs = append(rs, r)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 3 waiters woke after Resize up", i)
		}
	}
	if b, q, limit, qcap := c.Load(); b != 4 || q != 0 || limit != 4 || qcap != 10 {
		t.Fatalf("Load() = %d %d %d %d, want 4 0 4 10", b, q, limit, qcap)
	}
	hold()
	for _, r := range rs {
		r()
	}
	ctLoad(t, c, 0, 0)
}

func TestCapacityResizeDown(t *testing.T) {
	c := engine.NewCapacity(4, 10)
	var holds []func()
	for i := 0; i < 4; i++ {
		r, err := c.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, r)
	}
	c.Resize(1, 1)
	got := make(chan func(), 1)
	go func() {
		r, err := c.Acquire(context.Background())
		if err != nil {
			t.Errorf("waiter: %v", err)
			return
		}
		got <- r
	}()
	ctQueued(t, c, 1)
	if _, err := c.Acquire(context.Background()); !errors.Is(err, engine.ErrQueueFull) {
		t.Fatalf("queue shrunk to 1: second waiter got %v", err)
	}
	// three releases bring 4 busy down to the new limit of 1; the waiter
	// must not get a worker until the fourth.
	for i := 0; i < 3; i++ {
		holds[i]()
		if b, q, _, _ := c.Load(); b != 3-i || q != 1 {
			t.Fatalf("after release %d: busy=%d queued=%d, want %d 1", i+1, b, q, 3-i)
		}
	}
	select {
	case <-got:
		t.Fatal("waiter got a worker while the node was still over its new size")
	default:
	}
	holds[3]()
	var r func()
	select {
	case r = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter never got the worker")
	}
	ctLoad(t, c, 1, 0)
	r()
	ctLoad(t, c, 0, 0)
}

func TestCapacityWaiterCancel(t *testing.T) {
	c := engine.NewCapacity(1, 1)
	hold, _ := c.Acquire(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := c.Acquire(ctx)
		got <- err
	}()
	ctQueued(t, c, 1)
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled waiter did not return")
	}
	ctLoad(t, c, 1, 0)
	// its place is free: another can queue
	got2 := make(chan func(), 1)
	go func() {
		r, err := c.Acquire(context.Background())
		if err != nil {
			t.Errorf("second waiter: %v", err)
			return
		}
		got2 <- r
	}()
	ctQueued(t, c, 1)
	hold()
	select {
	case r := <-got2:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("second waiter never served")
	}
	ctLoad(t, c, 0, 0)
	if c.Rejected() != 0 {
		t.Fatalf("Rejected = %d; a cancelled waiter is not a rejection", c.Rejected())
	}
}

// Many waiters giving up at random while workers are released: no worker
// is ever lost or doubled (a grant racing a cancel hands the worker back).
func TestCapacityCancelStress(t *testing.T) {
	const workers = 2
	c := engine.NewCapacity(workers, 1000)
	var holders, over atomic.Int64
	var served, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 200; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3000))*time.Microsecond)
			defer cancel()
			release, err := c.Acquire(ctx)
			if err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Acquire: %v", err)
				}
				gaveUp.Add(1)
				return
			}
			if holders.Add(1) > workers {
				over.Add(1)
			}
			for i := 0; i < rng.IntN(50); i++ {
				runtime.Gosched()
			}
			holders.Add(-1)
			served.Add(1)
			release()
		}()
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("more than %d holders at once %d times", workers, over.Load())
	}
	if served.Load()+gaveUp.Load() != 200 || served.Load() < workers {
		t.Fatalf("served %d, gave up %d", served.Load(), gaveUp.Load())
	}
	t.Logf("served %d, gave up %d", served.Load(), gaveUp.Load())
	ctLoad(t, c, 0, 0) // every worker came back
	// and all of them still work
	var rs []func()
	for i := 0; i < workers; i++ {
		r, err := c.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		r()
	}
}
