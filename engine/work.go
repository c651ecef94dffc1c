package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// WorkModel is the modelled service time of each kind of request, spent for
// real on the lab clock while a worker is held.
type WorkModel struct {
	Web   time.Duration // web work on every request: parsing, rendering, JSON
	Read  time.Duration // data work of a point read
	Feed  time.Duration // data work of a join-shaped read
	Write time.Duration // data work of an insert: disk, locks, a transaction
	// Upload is the extra web work of an upload: receiving and storing a
	// large body holds a worker for this long.
	Upload time.Duration
}

// WebOf returns the web work of an op: Web, plus Upload for an upload.
func (w WorkModel) WebOf(op Op) time.Duration {
	if op == OpUpload {
		return w.Web + w.Upload
	}
	return w.Web
}

// Data returns the data work of an op (0 for a page).
func (w WorkModel) Data(op Op) time.Duration {
	switch op {
	case OpRead:
		return w.Read
	case OpFeed:
		return w.Feed
	case OpWrite:
		return w.Write
	}
	return 0
}

// Store is the data tier as a web server sees it.
type Store interface {
	// Do runs one data op for a key and returns the response body.
	Do(ctx context.Context, op Op, key int, body string) ([]byte, error)
}

// ErrBadOp is returned for a request that is not a data op.
var ErrBadOp = errors.New("not a data op")

// Meter records cumulative latency per op, for gauges such as "feed p50 on
// SQL".
type Meter struct {
	mu    sync.Mutex
	clock *Clock
	hists map[Op]*hdr.Histogram
	fails map[Op]int64
}

// NewMeter makes an empty meter.
func NewMeter(clock *Clock) *Meter {
	m := &Meter{clock: clock, hists: map[Op]*hdr.Histogram{}, fails: map[Op]int64{}}
	for _, op := range Ops() {
		m.hists[op] = NewHist()
	}
	return m
}

// Record adds one op that took d; err marks a failure.
func (m *Meter) Record(op Op, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.fails[op]++
		return
	}
	RecordHist(m.hists[op], d)
}

// Quantiles returns an op's cumulative latency.
func (m *Meter) Quantiles(op Op) Quantiles {
	m.mu.Lock()
	defer m.mu.Unlock()
	return QuantilesOf(m.hists[op])
}

// Ms converts a duration to float milliseconds for gauges and facts.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
