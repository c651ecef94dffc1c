package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Op is a kind of request the generator sends.
type Op string

// Request kinds. Page is web work only; Read, Feed and Write reach the data
// tier (a point read, a join-shaped read, an insert). Upload is long web
// work (a large body received and stored), with no data-tier call. Asset is
// a static file, fetched by the load's Fetch function.
const (
	OpPage   Op = "page"
	OpRead   Op = "read"
	OpFeed   Op = "feed"
	OpWrite  Op = "write"
	OpUpload Op = "upload"
	OpAsset  Op = "asset"
)

// Ops lists every op in a fixed order, in a new slice the caller may keep.
func Ops() []Op { return []Op{OpPage, OpRead, OpFeed, OpWrite, OpUpload, OpAsset} }

// Mix gives each op a weight; weights need not sum to 1.
type Mix map[Op]float64

// LoadConfig describes generated traffic.
type LoadConfig struct {
	// Rate is the arrival rate in requests per lab second (open model: the
	// generator keeps sending at this rate whatever the servers do).
	Rate float64
	// Entry returns the base URL requests go to (the public entry point).
	Entry func() string
	// Mix of request kinds; default all reads.
	Mix Mix
	// Keys is how many distinct keys (users' data) requests touch.
	Keys int
	// Zipf > 1 makes key popularity skewed (a few hot keys); 0 is uniform.
	Zipf float64
	// Users is the population of virtual users; each carries an identity
	// cookie, so sticky policies and sessions see real users.
	Users int
	// Timeout is the client's patience, in lab time.
	Timeout time.Duration
	// MaxInFlight caps the generator's own concurrency; past it requests are
	// counted as failed (client-overload) rather than queued, so the arrival
	// rate stays honest.
	MaxInFlight int
	Seed        int64
	// Uniform sends at exactly even intervals. The default (false) is
	// Poisson arrivals, as independent users make: the same mean rate, but
	// random gaps, so queues form before a server is 100% busy.
	Uniform bool
	// Fetch, when set, makes each request itself (a browser fetching a
	// file from its region's edge, say) with the generator's client, and
	// returns "" or a failure reason, and a tag for Observe (the route the
	// request took, say). Entry is not used then.
	Fetch func(ctx context.Context, c *http.Client, op Op, key, user int) (reason, tag string)
	// Observe, when set, is told of every finished request: its latency
	// from the intended send time, "" or its failure reason, and the tag
	// Fetch gave it.
	Observe func(op Op, key, user int, lat time.Duration, reason, tag string)
}

// DefaultLoadConfig is 200 req/s of reads over 1,000 keys and 500 users.
func DefaultLoadConfig() LoadConfig {
	return LoadConfig{Rate: 200, Mix: Mix{OpRead: 1}, Keys: 1000, Users: 500, Timeout: 2 * time.Second, MaxInFlight: 4000, Seed: 1}
}

// Validate checks a load configuration.
func (c LoadConfig) Validate() error {
	switch {
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("rate %g is not between 0 and %d", c.Rate, MaxRate)
	case c.Entry == nil && c.Fetch == nil:
		return errors.New("load has no entry point")
	case c.Keys < 1 || c.Users < 1:
		return errors.New("load needs at least one key and one user")
	case c.Zipf != 0 && c.Zipf <= 1:
		return fmt.Errorf("zipf exponent %g must be above 1 (or 0 for uniform)", c.Zipf)
	case c.Timeout <= 0 || c.MaxInFlight < 1:
		return errors.New("load needs a timeout and an in-flight cap")
	}
	return nil
}

// Load is an open-model traffic generator: requests are sent at their
// intended times whatever the servers do, and latency is measured from the
// intended send time, so a stall shows in p99 (as in wrk2).
type Load struct {
	cfg    LoadConfig
	clock  *Clock
	client *http.Client

	base       atomic.Uint64 // float64 bits
	spikeX     atomic.Uint64 // float64 bits
	spikeUntil atomic.Int64
	inflight   atomic.Int64
	startedAt  atomic.Int64 // lab time the load started; -1 before
	wg         sync.WaitGroup

	mix  atomic.Pointer[mixTable]
	zipf atomic.Uint64 // float64 bits of the key skew now; 0 uniform

	mu      sync.Mutex
	totals  Totals
	all     *hdr.Histogram
	seconds []secBucket
	ops     map[Op]*opStats
}

type secBucket struct {
	sent, ok, failed int64
	hist             *hdr.Histogram
	final            bool // p50 and p99 are computed; the second is over
	p50, p99         time.Duration
}

type opStats struct {
	ok, failed int64
	hist       *hdr.Histogram
	win        *Window
}

// NewLoad makes a generator; the system's Start runs it.
func NewLoad(cfg LoadConfig, clock *Clock) (*Load, error) {
	if cfg.Mix == nil {
		cfg.Mix = Mix{OpRead: 1}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext: (&net.Dialer{Timeout: time.Second}).DialContext,
		// Like a fleet of browsers behind a few proxies: a bounded pool of
		// connections. Without a bound, a stall makes the client open
		// thousands of connections at once and the storm becomes the outage.
		MaxConnsPerHost:     512,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	l := &Load{cfg: cfg, clock: clock, client: &http.Client{Transport: tr}, all: NewHist(), ops: map[Op]*opStats{}}
	l.SetMix(cfg.Mix)
	l.zipf.Store(f64(cfg.Zipf))
	l.base.Store(f64(cfg.Rate))
	l.spikeX.Store(f64(1))
	l.startedAt.Store(-1)
	l.totals.FailedByReason = map[string]int64{}
	for _, op := range Ops() {
		l.ops[op] = &opStats{hist: NewHist(), win: NewWindow(clock, 5)}
	}
	return l, nil
}

func f64(v float64) uint64 { return mathFloat64bits(v) }

type mixTable struct {
	ops []Op
	cum []float64 // cumulative weights, normalised to end at 1
}

func (m *mixTable) pick(x float64) Op {
	for i, c := range m.cum {
		if x < c {
			return m.ops[i]
		}
	}
	return m.ops[len(m.ops)-1]
}

// SetMix changes the mix of request kinds live. A mix with no positive
// weight means all reads.
func (l *Load) SetMix(m Mix) {
	t := &mixTable{}
	var sum float64
	for _, op := range Ops() {
		if w := m[op]; w > 0 {
			sum += w
			t.ops, t.cum = append(t.ops, op), append(t.cum, sum)
		}
	}
	if sum == 0 {
		t.ops, t.cum, sum = []Op{OpRead}, []float64{1}, 1
	}
	for i := range t.cum {
		t.cum[i] /= sum
	}
	l.mix.Store(t)
}

// SetZipf changes the key skew live: s > 1 is Zipf with exponent s, 0 is
// uniform.
func (l *Load) SetZipf(s float64) error {
	if s != 0 && !(s > 1 && s < 10) {
		return fmt.Errorf("zipf exponent %g must be above 1 (or 0 for uniform)", s)
	}
	l.zipf.Store(f64(s))
	return nil
}

// Zipf is the key skew in force (0: uniform).
func (l *Load) Zipf() float64 { return mathFloat64frombits(l.zipf.Load()) }

// SetRate changes the base arrival rate live.
func (l *Load) SetRate(r float64) { l.base.Store(f64(r)) }

// BaseRate is the rate without a spike.
func (l *Load) BaseRate() float64 { return mathFloat64frombits(l.base.Load()) }

// Spike multiplies the rate by x for lab duration d.
func (l *Load) Spike(x float64, d time.Duration) {
	l.spikeX.Store(f64(x))
	l.spikeUntil.Store(int64(l.clock.Now() + d))
}

// RateAt is the target rate at lab time t.
func (l *Load) RateAt(t time.Duration) float64 {
	r := l.BaseRate()
	if int64(t) < l.spikeUntil.Load() {
		r *= mathFloat64frombits(l.spikeX.Load())
	}
	return r
}

// Run sends requests until ctx ends, then waits for those in flight.
func (l *Load) Run(ctx context.Context) {
	defer l.wg.Wait()
	defer l.client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(uint64(l.cfg.Seed), 0xC0FFEE))
	var zipf *rand.Zipf
	skew := -1.0
	start := l.clock.Now()
	l.startedAt.Store(int64(start))
	next := start
	for ctx.Err() == nil {
		now := l.clock.Now()
		for next <= now {
			rate := l.RateAt(next)
			if rate <= 0 {
				next = now + 10*time.Millisecond
				break
			}
			op := l.mix.Load().pick(rng.Float64())
			if z := l.Zipf(); z != skew {
				skew, zipf = z, nil
				if z > 1 && l.cfg.Keys > 1 {
					zipf = rand.NewZipf(rng, z, 1, uint64(l.cfg.Keys-1))
				}
			}
			var key int
			if zipf != nil {
				key = int(zipf.Uint64())
			} else {
				key = rng.IntN(l.cfg.Keys)
			}
			l.send(ctx, next, op, key, rng.IntN(l.cfg.Users))
			gap := float64(time.Second) / rate
			if !l.cfg.Uniform {
				gap *= rng.ExpFloat64()
			}
			next += time.Duration(gap)
		}
		wake := next
		if min := now + time.Millisecond; wake < min {
			wake = min
		}
		if l.clock.SleepUntil(ctx, wake) != nil {
			return
		}
	}
}

func (l *Load) sec(t time.Duration) int {
	return int((t - time.Duration(l.startedAt.Load())) / time.Second)
}

func (l *Load) bucket(sec int) *secBucket {
	for len(l.seconds) <= sec {
		l.seconds = append(l.seconds, secBucket{hist: NewHist()})
		// keep memory bounded: histograms of seconds that left the series go
		if i := len(l.seconds) - SeriesLen - 2; i >= 0 {
			l.seconds[i].hist = nil
		}
	}
	return &l.seconds[sec]
}

func (l *Load) send(ctx context.Context, intended time.Duration, op Op, key, user int) {
	l.mu.Lock()
	l.totals.Sent++
	l.bucket(l.sec(intended)).sent++
	l.mu.Unlock()
	if l.inflight.Add(1) > int64(l.cfg.MaxInFlight) {
		l.inflight.Add(-1)
		l.done(intended, op, key, user, ReasonDropped, "")
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer l.inflight.Add(-1)
		reason, tag := l.do(ctx, op, key, user)
		l.done(intended, op, key, user, reason, tag)
	}()
}

// do sends one request and returns "" on success or a failure reason, and
// the Fetch function's tag.
func (l *Load) do(parent context.Context, op Op, key, user int) (string, string) {
	if l.cfg.Fetch != nil {
		ctx, cancel := l.clock.WithTimeout(parent, l.cfg.Timeout)
		defer cancel()
		reason, tag := l.cfg.Fetch(ctx, l.client, op, key, user)
		if reason != "" && parent.Err() != nil {
			return reasonClosing, tag
		}
		return reason, tag
	}
	return l.send1(parent, op, key, user), ""
}

func (l *Load) done(intended time.Duration, op Op, key, user int, reason, tag string) {
	if reason == reasonClosing {
		return
	}
	now := l.clock.Now()
	lat := now - intended
	if l.cfg.Observe != nil {
		l.cfg.Observe(op, key, user, lat, reason, tag)
	}
	st := l.ops[op]
	st.win.Record(lat, reason != "")
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(l.sec(now))
	if reason == "" {
		l.totals.OK++
		st.ok++
		b.ok++
		RecordHist(b.hist, lat)
		RecordHist(l.all, lat)
		RecordHist(st.hist, lat)
		return
	}
	l.totals.Failed++
	st.failed++
	b.failed++
	l.totals.FailedByReason[reason]++
}

// OpStats returns an op's cumulative successes, failures and latency.
func (l *Load) OpStats(op Op) (ok, failed int64, q Quantiles) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.ops[op]
	return st.ok, st.failed, QuantilesOf(st.hist)
}

// OpRecent returns an op's rate and latency over the last few seconds.
func (l *Load) OpRecent(op Op) (rps float64, q Quantiles) { return l.ops[op].win.Stats() }

// Totals returns the counts so far.
func (l *Load) Totals() Totals {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.totals
	t.Unfinished = t.Sent - t.OK - t.Failed
	t.FailedByReason = make(map[string]int64, len(l.totals.FailedByReason))
	for k, v := range l.totals.FailedByReason {
		t.FailedByReason[k] = v
	}
	return t
}

func (l *Load) fill(s *Snapshot) {
	now := l.clock.Now()
	s.Rate = l.RateAt(now)
	s.BaseRate = l.BaseRate()
	if left := time.Duration(l.spikeUntil.Load()) - now; left > 0 {
		s.SpikeLeft = left
	}
	s.InFlight = l.inflight.Load()
	s.Totals = l.Totals()
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Latency = QuantilesOf(l.all)
	if l.startedAt.Load() < 0 {
		return
	}
	complete := l.sec(now) // seconds before this one are complete
	if complete > len(l.seconds) {
		complete = len(l.seconds)
	}
	s.SecondsRun = complete
	from := complete - SeriesLen
	if from < 0 {
		from = 0
	}
	for i := from; i < complete; i++ {
		b := &l.seconds[i]
		if !b.final && b.hist != nil {
			q := QuantilesOf(b.hist)
			b.p50, b.p99, b.final = q.P50, q.P99, true
		}
		s.Series = append(s.Series, Point{Sec: i, Sent: b.sent, OK: b.ok, Failed: b.failed, P50: b.p50, P99: b.p99})
	}
}
