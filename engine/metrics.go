package engine

import (
	"math"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// NewHist makes a latency histogram in microseconds, 1 µs to 2 min.
func NewHist() *hdr.Histogram { return hdr.New(1, 120_000_000, 2) }

// RecordHist records a latency in a histogram made by NewHist.
func RecordHist(h *hdr.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	_ = h.RecordValue(us) // values above the range are clamped below
}

// QuantilesOf reads the quantiles of a histogram made by NewHist.
func QuantilesOf(h *hdr.Histogram) Quantiles {
	if h.TotalCount() == 0 {
		return Quantiles{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Quantiles{
		P50: us(h.ValueAtQuantile(50)),
		P95: us(h.ValueAtQuantile(95)),
		P99: us(h.ValueAtQuantile(99)),
		Max: us(h.Max()),
		N:   h.TotalCount(),
	}
}

// Window keeps per-lab-second counts and latencies for the last few seconds.
// It is safe for concurrent use.
type Window struct {
	mu      sync.Mutex
	buckets []bucket
	clock   *Clock
}

type bucket struct {
	sec    int64
	count  int64
	errors int64
	hist   *hdr.Histogram
}

// NewWindow keeps n seconds.
func NewWindow(clock *Clock, n int) *Window {
	w := &Window{buckets: make([]bucket, n), clock: clock}
	for i := range w.buckets {
		w.buckets[i] = bucket{sec: -1, hist: NewHist()}
	}
	return w
}

// Record counts one request that took d; failed marks an error.
func (w *Window) Record(d time.Duration, failed bool) {
	sec := int64(w.clock.Now() / time.Second)
	w.mu.Lock()
	b := &w.buckets[sec%int64(len(w.buckets))]
	if b.sec != sec {
		b.sec, b.count, b.errors = sec, 0, 0
		b.hist.Reset()
	}
	b.count++
	if failed {
		b.errors++
	} else {
		RecordHist(b.hist, d)
	}
	w.mu.Unlock()
}

// Stats returns the rate over the last complete second and the latency
// quantiles over the whole window (completed seconds and the current one).
func (w *Window) Stats() (rps float64, q Quantiles) {
	now := int64(w.clock.Now() / time.Second)
	agg := NewHist()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.sec < 0 || now-b.sec >= int64(len(w.buckets)) {
			continue
		}
		if b.sec == now-1 {
			rps = float64(b.count)
		}
		agg.Merge(b.hist)
	}
	return rps, QuantilesOf(agg)
}

func mathFloat64bits(f float64) uint64     { return math.Float64bits(f) }
func mathFloat64frombits(b uint64) float64 { return math.Float64frombits(b) }

// Book keeps latencies under labels (a region, a route): for each, the
// outcomes and latency since start and over the last few seconds. It is
// safe for concurrent use.
type Book struct {
	clock *Clock
	mu    sync.Mutex
	pages map[string]*bookPage
}

type bookPage struct {
	ok, failed int64
	hist       *hdr.Histogram
	win        *Window
}

// NewBook makes an empty book.
func NewBook(clock *Clock) *Book { return &Book{clock: clock, pages: map[string]*bookPage{}} }

func (b *Book) page(label string) *bookPage {
	p := b.pages[label]
	if p == nil {
		p = &bookPage{hist: NewHist(), win: NewWindow(b.clock, 5)}
		b.pages[label] = p
	}
	return p
}

// Record adds one request under a label.
func (b *Book) Record(label string, d time.Duration, failed bool) {
	b.mu.Lock()
	p := b.page(label)
	if failed {
		p.failed++
	} else {
		p.ok++
		RecordHist(p.hist, d)
	}
	b.mu.Unlock()
	p.win.Record(d, failed)
}

// Totals returns a label's outcomes and latency since start.
func (b *Book) Totals(label string) (ok, failed int64, q Quantiles) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.page(label)
	return p.ok, p.failed, QuantilesOf(p.hist)
}

// Recent returns a label's rate and latency over the last seconds.
func (b *Book) Recent(label string) (float64, Quantiles) {
	b.mu.Lock()
	p := b.page(label)
	b.mu.Unlock()
	return p.win.Stats()
}
