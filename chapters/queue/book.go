package queue

import (
	"slices"
	"sync"
	"time"

	"scalelab/engine"
)

// book keeps every finished order by the lab second it was sent in: how
// many succeeded and failed, and the successes' latencies.
type book struct {
	mu   sync.Mutex
	secs map[int]*bookSec
}

type bookSec struct {
	ok, failed int64
	lats       []time.Duration
}

func newBook() *book { return &book{secs: map[int]*bookSec{}} }

func (b *book) add(sent, lat time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sec := int(sent / time.Second)
	s := b.secs[sec]
	if s == nil {
		s = &bookSec{}
		b.secs[sec] = s
	}
	if ok {
		s.ok++
		s.lats = append(s.lats, lat)
	} else {
		s.failed++
	}
}

// span sums lab seconds [from, to): successes, failures and the
// successes' p50.
func (b *book) span(from, to int) (ok, failed int64, p50 time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lats []time.Duration
	for s := from; s < to; s++ {
		if x := b.secs[s]; x != nil {
			ok += x.ok
			failed += x.failed
			lats = append(lats, x.lats...)
		}
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		p50 = lats[len(lats)/2]
	}
	return ok, failed, p50
}

// series is a value sampled once per lab second (the queue's depth), for
// the chart and for the facts.
type series struct {
	mu   sync.Mutex
	vals []float64 // by lab second
}

func newSeries() *series { return &series{} }

// set records v for the second t is in (the latest sample of a second
// wins), filling skipped seconds with the previous value.
func (s *series) set(t time.Duration, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := int(t / time.Second)
	for len(s.vals) <= sec {
		prev := v
		if n := len(s.vals); n > 0 {
			prev = s.vals[n-1]
		}
		s.vals = append(s.vals, prev)
	}
	s.vals[sec] = v
}

// chart returns the series as an engine chart.
func (s *series) chart(name, unit string) engine.Chart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return engine.Chart{Name: name, Unit: unit, Values: slices.Clone(s.vals)}
}
