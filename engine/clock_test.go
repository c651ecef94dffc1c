package engine_test

import (
	"context"
	"errors"
	"math"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"syscall"
	"testing"
	"time"
)

// ctLetRealTimePass waits d of real time. It is not synchronisation: it is
// used only where a test must show that something does NOT happen (a paused
// clock stands still, a sleeper stays asleep) while real time passes.
func ctLetRealTimePass(d time.Duration) { <-time.After(d) }

// ctDone reports whether ch is closed, without blocking.
func ctDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ctWaitClosed waits up to within for ch to close.
func ctWaitClosed(t testing.TB, what string, ch <-chan struct{}, within time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s: not done within %s", what, within)
	}
}

func TestClockPauseResume(t *testing.T) {
	c := engine.NewClock()
	enginetest.Eventually(t, "clock runs", 2*time.Second, func() bool { return c.Now() > 0 })
	if c.Paused() {
		t.Fatal("new clock is paused")
	}
	c.Pause()
	c.Pause() // idempotent
	if !c.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	frozen := c.Now()
	ctLetRealTimePass(50 * time.Millisecond)
	if got := c.Now(); got != frozen {
		t.Fatalf("paused clock moved: %v -> %v", frozen, got)
	}

	realResume := time.Now()
	c.Resume()
	c.Resume() // idempotent
	if c.Paused() {
		t.Fatal("Paused() = true after Resume")
	}
	enginetest.Eventually(t, "clock continues after Resume", 2*time.Second, func() bool { return c.Now() > frozen })
	// Lab time is continuous: it picks up where it stopped, it does not
	// jump by the real time spent paused.
	now := c.Now()
	if ran := time.Since(realResume); now > frozen+ran+time.Millisecond {
		t.Fatalf("after resume lab time %v jumped past %v + %v of real time", now, frozen, ran)
	}
}

func TestClockSetSpeed(t *testing.T) {
	c := engine.NewClock()
	for _, s := range []float64{0, 0.1, 0.24, 4.01, 5, -1, math.Inf(1), math.Inf(-1)} {
		if err := c.SetSpeed(s); !errors.Is(err, engine.ErrSpeed) {
			t.Errorf("SetSpeed(%v) = %v, want ErrSpeed", s, err)
		}
	}
	if c.Speed() != 1 {
		t.Fatalf("a rejected speed changed the speed to %v", c.Speed())
	}
	for _, s := range []float64{0.25, 0.5, 1, 2, 4} {
		if err := c.SetSpeed(s); err != nil {
			t.Errorf("SetSpeed(%v) = %v", s, err)
		}
		if c.Speed() != s {
			t.Errorf("Speed() = %v after SetSpeed(%v)", c.Speed(), s)
		}
	}
}

func TestClockSetSpeedNaN(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(math.NaN()); !errors.Is(err, engine.ErrSpeed) {
		t.Fatalf("SetSpeed(NaN) = %v, want ErrSpeed", err)
	}
}

func TestClockSpeedContinuity(t *testing.T) {
	c := engine.NewClock()
	c.Pause()
	before := c.Now()
	if err := c.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); got != before {
		t.Fatalf("changing speed while paused moved the clock: %v -> %v", before, got)
	}
	c.Resume()
	r0, l0 := time.Now(), c.Now()
	enginetest.Eventually(t, "lab time advances", 2*time.Second, func() bool { return c.Now()-l0 >= 200*time.Millisecond })
	// at 4x, 200ms of lab time needs ~50ms of real time; it can never need less
	if real := time.Since(r0); real < 45*time.Millisecond {
		t.Fatalf("200ms of lab time at 4x took only %v real", real)
	}
}

func TestClockFastSleep(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	start, labStart := time.Now(), c.Now()
	if err := c.Sleep(context.Background(), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	real, lab := time.Since(start), c.Now()-labStart
	if lab < 200*time.Millisecond {
		t.Fatalf("Sleep(200ms) returned after only %v of lab time", lab)
	}
	if real >= 150*time.Millisecond {
		t.Fatalf("at 4x a lab Sleep of 200ms took %v real; want about 50ms", real)
	}
	if real < 45*time.Millisecond {
		t.Fatalf("at 4x a lab Sleep of 200ms took only %v real", real)
	}
	// a non-positive sleep returns at once with the context's error
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Sleep(ctx, 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
	cancel()
	if err := c.Sleep(ctx, -time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(-1s) on a cancelled ctx = %v", err)
	}
}

func TestClockSleepUntilCancel(t *testing.T) {
	for _, paused := range []bool{false, true} {
		c := engine.NewClock()
		if paused {
			c.Pause()
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var err error
		go func() {
			defer close(done)
			err = c.SleepUntil(ctx, time.Hour)
		}()
		cancel()
		ctWaitClosed(t, "SleepUntil after cancel", done, 2*time.Second)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("paused=%v: SleepUntil = %v, want context.Canceled", paused, err)
		}
	}
	// a time already reached returns nil at once
	c := engine.NewClock()
	if err := c.SleepUntil(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestClockSpeedUpDuringSleep(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(0.25); err != nil {
		t.Fatal(err)
	}
	target := c.Now() + time.Second // 4 s of real time at 0.25x
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SleepUntil(context.Background(), target)
	}()
	if err := c.SetSpeed(4); err != nil { // now ~250 ms
		t.Fatal(err)
	}
	ctWaitClosed(t, "sleeper after speed-up", done, 3*time.Second)
	if real := time.Since(start); real > 2500*time.Millisecond {
		t.Fatalf("sleeper took %v real after a speed-up to 4x; the speed change was not honoured", real)
	}
	if now := c.Now(); now < target {
		t.Fatalf("sleeper woke at lab %v before its target %v", now, target)
	}
}

func TestClockSlowDownAndPauseDuringSleep(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	target := c.Now() + time.Second // 250 ms real at 4x
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SleepUntil(context.Background(), target)
	}()
	if err := c.SetSpeed(0.25); err != nil {
		t.Fatal(err)
	}
	at := c.Now()
	if at >= target-500*time.Millisecond {
		t.Fatalf("machine too slow: lab time %v already near the target %v", at, target)
	}
	// Had the sleeper kept the 4x timer it would wake (target-at)/4 from now.
	ctLetRealTimePass((target-at)/4 + 200*time.Millisecond)
	if ctDone(done) {
		t.Fatalf("sleeper woke at lab %v (target %v): the slow-down was ignored", c.Now(), target)
	}
	// Pause, then go back to 4x while paused: a sleeper that honoured the
	// speed but not the pause would wake left/4 from now.
	c.Pause()
	if err := c.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	left := target - c.Now()
	if left <= 0 {
		t.Fatalf("machine too slow: target passed before the pause")
	}
	ctLetRealTimePass(left/4 + 200*time.Millisecond)
	if ctDone(done) {
		t.Fatal("sleeper woke while the clock was paused")
	}
	c.Resume()
	ctWaitClosed(t, "sleeper after resume at 4x", done, 3*time.Second)
	if now := c.Now(); now < target {
		t.Fatalf("woke at %v before target %v", now, target)
	}
}

func TestClockEvery(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan time.Duration, 1000)
	start := c.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Every(ctx, 20*time.Millisecond, func(now time.Duration) { calls <- now })
	}()
	var got []time.Duration
	deadline := time.After(5 * time.Second)
	for len(got) < 5 {
		select {
		case now := <-calls:
			got = append(got, now)
		case <-deadline:
			t.Fatalf("Every called fn %d times in 5s", len(got))
		}
	}
	cancel()
	ctWaitClosed(t, "Every after cancel", done, 2*time.Second)
	for i, now := range got {
		if min := start + time.Duration(i+1)*20*time.Millisecond; now < min {
			t.Errorf("call %d at lab %v, before %v", i, now, min)
		}
	}
	n := len(got) + len(calls)
	ctLetRealTimePass(50 * time.Millisecond)
	if after := len(got) + len(calls); after != n {
		t.Fatalf("fn called %d more times after Every returned", after-n)
	}
}

func TestClockWithTimeout(t *testing.T) {
	c := engine.NewClock()
	start := c.Now()
	ctx, cancel := c.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ctWaitClosed(t, "WithTimeout", ctx.Done(), 3*time.Second)
	if at := c.Now() - start; at < 100*time.Millisecond {
		t.Fatalf("cancelled after %v of lab time, want >= 100ms", at)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
		t.Fatalf("cause = %v, want DeadlineExceeded", cause)
	}

	// cancel before the deadline: cause is Canceled
	ctx2, cancel2 := c.WithTimeout(context.Background(), time.Hour)
	cancel2()
	ctWaitClosed(t, "cancelled WithTimeout", ctx2.Done(), time.Second)
	if cause := context.Cause(ctx2); !errors.Is(cause, context.Canceled) {
		t.Fatalf("cause after cancel = %v, want Canceled", cause)
	}

	// a parent's end ends the child
	parent, endParent := context.WithCancel(context.Background())
	ctx3, cancel3 := c.WithTimeout(parent, time.Hour)
	defer cancel3()
	endParent()
	ctWaitClosed(t, "child of a cancelled parent", ctx3.Done(), time.Second)
}

func TestClockWithTimeoutPaused(t *testing.T) {
	c := engine.NewClock()
	c.Pause()
	ctx, cancel := c.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ctLetRealTimePass(400 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("timed out while the clock was paused: %v", context.Cause(ctx))
	}
	c.Resume()
	ctWaitClosed(t, "WithTimeout after resume", ctx.Done(), 3*time.Second)
	if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
		t.Fatalf("cause = %v, want DeadlineExceeded", cause)
	}
}

// ctCPU is the process's user+system CPU time.
func ctCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A paused WithTimeout at a speed below 1x must wait idle, not spin.
func TestClockWithTimeoutPausedSlowIdle(t *testing.T) {
	c := engine.NewClock()
	if err := c.SetSpeed(0.5); err != nil {
		t.Fatal(err)
	}
	c.Pause()
	ctx, cancel := c.WithTimeout(context.Background(), time.Second)
	defer cancel()
	before := ctCPU()
	ctLetRealTimePass(300 * time.Millisecond)
	if used := ctCPU() - before; used > 100*time.Millisecond {
		t.Fatalf("one paused WithTimeout at 0.5x used %v of CPU in 300ms", used)
	}
	if ctx.Err() != nil {
		t.Fatal("timed out while paused")
	}
}
