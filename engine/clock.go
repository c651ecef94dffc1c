package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Speed limits of the lab clock.
const (
	MinSpeed = 0.25
	MaxSpeed = 4.0
)

// ErrSpeed is returned when a clock speed is outside [MinSpeed, MaxSpeed].
var ErrSpeed = errors.New("clock speed must be between 0.25x and 4x")

// Clock is the lab clock. Every timer and modelled delay in the engine reads
// it, so the whole lab can be paused or run slower or faster. Lab time is a
// duration since the clock was made; it stands still while paused.
type Clock struct {
	cur        atomic.Pointer[clockState] // read without the lock by Now
	mu         sync.Mutex
	speed      float64
	paused     bool
	anchorReal time.Time     // real time at the last change
	anchorLab  time.Duration // lab time at the last change
	resumed    chan struct{} // closed while running; open while paused
	changed    chan struct{} // closed and replaced on every change of speed or pause
}

// clockState is an immutable copy of what Now needs.
type clockState struct {
	speed      float64
	paused     bool
	anchorReal time.Time
	anchorLab  time.Duration
}

// NewClock returns a running clock at 1× speed, reading 0.
func NewClock() *Clock {
	r := make(chan struct{})
	close(r)
	c := &Clock{speed: 1, anchorReal: time.Now(), resumed: r, changed: make(chan struct{})}
	c.publishLocked()
	return c
}

// publishLocked makes the current anchors visible to Now; mu is held.
func (c *Clock) publishLocked() {
	c.cur.Store(&clockState{speed: c.speed, paused: c.paused, anchorReal: c.anchorReal, anchorLab: c.anchorLab})
}

func (c *Clock) nowLocked(real time.Time) time.Duration {
	if c.paused {
		return c.anchorLab
	}
	return c.anchorLab + time.Duration(float64(real.Sub(c.anchorReal))*c.speed)
}

// Now returns the lab time. It takes no lock: every hop of every request
// reads it.
func (c *Clock) Now() time.Duration {
	st := c.cur.Load()
	if st.paused {
		return st.anchorLab
	}
	return st.anchorLab + time.Duration(float64(time.Since(st.anchorReal))*st.speed)
}

// Speed returns the current speed factor.
func (c *Clock) Speed() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speed
}

// Paused reports whether the clock is paused.
func (c *Clock) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// rebase moves the anchor to now; the caller holds mu.
func (c *Clock) rebase() {
	now := time.Now()
	c.anchorLab = c.nowLocked(now)
	c.anchorReal = now
	close(c.changed)
	c.changed = make(chan struct{})
}

// SetSpeed changes the speed; lab time stays continuous.
func (c *Clock) SetSpeed(s float64) error {
	if !(s >= MinSpeed-1e-9 && s <= MaxSpeed+1e-9) { // also rejects NaN
		return ErrSpeed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebase()
	c.speed = s
	c.publishLocked()
	return nil
}

// Pause stops lab time.
func (c *Clock) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		return
	}
	c.rebase()
	c.paused = true
	c.publishLocked()
	c.resumed = make(chan struct{})
}

// Resume restarts lab time where it stopped.
func (c *Clock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		return
	}
	c.rebase()
	c.paused = false
	c.publishLocked()
	close(c.resumed)
}

// state returns what a sleeper needs under one lock.
func (c *Clock) state() (now time.Duration, speed float64, paused bool, resumed, changed chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(time.Now()), c.speed, c.paused, c.resumed, c.changed
}

// SleepUntil blocks until lab time reaches t or ctx ends.
func (c *Clock) SleepUntil(ctx context.Context, t time.Duration) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now, speed, paused, resumed, changed := c.state()
		if now >= t {
			return nil
		}
		if paused {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-resumed:
			}
			continue
		}
		wait := time.Duration(float64(t-now) / speed)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// Sleep blocks for lab duration d or until ctx ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return c.SleepUntil(ctx, c.Now()+d)
}

// Every calls fn every lab interval d until ctx ends. fn runs on the calling
// goroutine; a slow fn delays the next call rather than piling calls up.
func (c *Clock) Every(ctx context.Context, d time.Duration, fn func(now time.Duration)) {
	next := c.Now() + d
	for {
		if err := c.SleepUntil(ctx, next); err != nil {
			return
		}
		now := c.Now()
		fn(now)
		next += d
		if next < now {
			next = now + d
		}
	}
}

// WithTimeout returns a context that is cancelled after lab duration d.
func (c *Clock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	deadline := c.Now() + d
	var mu sync.Mutex
	var t *time.Timer
	var arm func()
	arm = func() {
		if ctx.Err() != nil {
			return
		}
		now, speed, paused, _, _ := c.state()
		left := deadline - now
		if left <= 0 {
			cancel(context.DeadlineExceeded)
			return
		}
		wait := time.Duration(float64(left) / speed)
		if paused {
			wait = 200 * time.Millisecond // real time: look again soon
		}
		mu.Lock()
		t = time.AfterFunc(wait, arm)
		mu.Unlock()
	}
	arm()
	return ctx, func() {
		mu.Lock()
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}
