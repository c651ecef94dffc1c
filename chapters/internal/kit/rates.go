package kit

import (
	"sync"
	"time"
)

// Ring keeps cumulative counters sampled over lab time, so a rate or a
// ratio over the last few seconds can be read from any two samples. It is
// safe for concurrent use (gauges and Watch sample from different
// goroutines, each with its own ring).
type Ring struct {
	mu   sync.Mutex
	keep time.Duration
	t    []time.Duration
	v    [][]float64
}

// NewRing makes a ring that keeps samples for keep of lab time.
func NewRing(keep time.Duration) *Ring { return &Ring{keep: keep} }

// Add records the counters at lab time t.
func (r *Ring) Add(t time.Duration, v ...float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.t); n > 0 && t <= r.t[n-1] {
		r.v[n-1] = v // the clock is paused: the newest counters win
		return
	}
	r.t, r.v = append(r.t, t), append(r.v, v)
	i := 0
	for i < len(r.t)-1 && t-r.t[i+1] >= r.keep {
		i++
	}
	r.t, r.v = r.t[i:], r.v[i:]
}

// Delta returns how much each counter grew over the last d (or less, when
// the ring holds less) and the lab time that covers; ok is false with
// under half of d.
func (r *Ring) Delta(d time.Duration) (dv []float64, span time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.t)
	if n < 2 {
		return nil, 0, false
	}
	now := r.t[n-1]
	i := n - 2
	for i > 0 && now-r.t[i] < d {
		i--
	}
	span = now - r.t[i]
	dv = make([]float64, len(r.v[n-1]))
	for k := range dv {
		if k < len(r.v[i]) {
			dv[k] = r.v[n-1][k] - r.v[i][k]
		}
	}
	return dv, span, span >= d/2
}

// PerSec is a counter's growth per lab second over span.
func PerSec(x float64, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return x / span.Seconds()
}

// RatioPct is 100*a/(a+b), and whether there was anything to divide.
func RatioPct(a, b float64) (float64, bool) {
	if a+b <= 0 {
		return 0, false
	}
	return 100 * a / (a + b), true
}

// Growth turns running totals, which start at zero with the step, into
// what each grew by since the last snapshot, by name. A watch calls Of
// for a total on every snapshot and counts the growth where it belongs
// (e.g. under a setting once the setting has held a second).
type Growth struct{ last map[string]int64 }

// Of returns how much total grew since the last call for name.
func (g *Growth) Of(name string, total int64) float64 {
	if g.last == nil {
		g.last = map[string]int64{}
	}
	d := total - g.last[name]
	g.last[name] = total
	return float64(d)
}
