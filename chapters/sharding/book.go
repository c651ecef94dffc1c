package sharding

import (
	"slices"
	"sync"
	"time"
)

// book keeps every finished request by the lab second it ended in, under
// a label (a kind of request, a group of users): how many succeeded and
// failed, and the successes' latencies.
type book struct {
	mu   sync.Mutex
	secs map[string]map[int]*bookSec
}

type bookSec struct {
	ok, failed int64
	lats       []time.Duration
}

func newBook() *book { return &book{secs: map[string]map[int]*bookSec{}} }

func (b *book) add(label string, end, lat time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.secs[label]
	if m == nil {
		m = map[int]*bookSec{}
		b.secs[label] = m
	}
	sec := int(end / time.Second)
	s := m[sec]
	if s == nil {
		s = &bookSec{}
		m[sec] = s
	}
	if ok {
		s.ok++
		s.lats = append(s.lats, lat)
	} else {
		s.failed++
	}
}

// span sums a label's lab seconds [from, to): successes, failures and the
// successes' p99.
func (b *book) span(label string, from, to int) (ok, failed int64, p99 time.Duration) {
	ok, failed, _, p99 = b.quantiles(label, from, to)
	return ok, failed, p99
}

// quantiles is span with the successes' p50 too.
func (b *book) quantiles(label string, from, to int) (ok, failed int64, p50, p99 time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lats []time.Duration
	for s := from; s < to; s++ {
		if x := b.secs[label][s]; x != nil {
			ok += x.ok
			failed += x.failed
			lats = append(lats, x.lats...)
		}
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		p50, p99 = lats[len(lats)/2], lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return ok, failed, p50, p99
}
