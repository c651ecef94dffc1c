// The load balancer rows: chapter 3's first step replayed through the lab's
// load balancer and through HAProxy, each in front of the lab's web
// servers.

package fidelity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
	"scalelab/engine/lb"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
)

// lbStep is chapter 3 step 1 ("policies"): three private web servers,
// web-3 with half the workers (small: 2, medium: 4) at the same service
// time, behind one load balancer, at 540 req/s of pages and reads. The
// work model and mix are chapters/loadbalancer's lbWork and lbMix.
var lbStep = struct {
	sizes []string
	rate  float64
	work  engine.WorkModel
	mix   engine.Mix
}{
	sizes: []string{"medium", "medium", "small"},
	rate:  540,
	work:  engine.WorkModel{Web: 10 * time.Millisecond, Read: time.Millisecond, Feed: 6 * time.Millisecond, Write: 8 * time.Millisecond},
	mix:   engine.Mix{engine.OpPage: 70, engine.OpRead: 30},
}

// lbPolicy pairs a lab policy with HAProxy's balance algorithm for it.
type lbPolicy struct {
	lab, haproxy string
}

var lbPolicies = []lbPolicy{
	{lb.PolicyRoundRobin, "roundrobin"},
	{lb.PolicyLeastConn, "leastconn"},
	{lb.PolicyP2C, "random(2)"},
}

// lbPlan is how the step is measured. Every run replays the same trace
// (the same seed: the same arrivals, ops and keys); latencies of requests
// sent during the warm-up are not counted, and the tail lets the requests
// sent in the window finish before the next run starts. Paired, HAProxy
// fronts a twin of the tier (the same web servers, sizes, work and
// database, built the same way in a system of its own) and both sides run
// at once, so a slow moment of the machine hits both alike; otherwise
// HAProxy fronts the very same servers, one run after the other. A pair of
// runs in whose window the machine stalled the process for more than
// maxStall is done again, up to maxRedo times in all.
type lbPlan struct {
	warm, measure, tail time.Duration
	seed                int64
	paired              bool
	maxStall            time.Duration
	maxRedo             int
}

// defaultLBPlan takes about 8.5 s (11 s with a pair done again). Both
// ways, the same trace meets the same queues, so the sides agree closely
// when the machine is quiet (p99 within 10%, the ratio row within 0.04).
// What moves them apart is the machine: on a 2-core machine running other
// tests, one after the other on the same servers (1.2 s windows, six runs
// in 8.6 s) put the ratio row outside ±0.1 in 2 runs of 8, as a 15-30 ms
// stall hit one side only; paired (2.5 s windows, 8.3 s) kept it within
// 0.04 but for one run in 6 at 0.08, with the same stalls. Seed 2's trace
// is typical of the step (p99 about 48 ms under round robin, 25 ms under
// least-conn).
var defaultLBPlan = lbPlan{warm: 200 * time.Millisecond, measure: 2500 * time.Millisecond, tail: 300 * time.Millisecond, seed: 2,
	paired: true, maxStall: 15 * time.Millisecond, maxRedo: 1}

// lbResult is one run's measure.
type lbResult struct {
	p50, p99   time.Duration
	ok, failed int64
	// stall is the longest a 1 ms ticker was late during the window: how
	// much the machine, not the system under test, held things up.
	stall time.Duration
}

// LB replays chapter 3 step 1 through the lab's load balancer and through
// HAProxy (balance roundrobin, leastconn and random(2)), each in front of
// the lab's web servers, and compares p50 and p99 per policy and the ratio
// p99(least-conn)/p99(round-robin) the step is about. See lbPlan for how
// the two sides share the machine.
func LB(ctx context.Context, t Tools) ([]Row, error) {
	return runLB(ctx, t, defaultLBPlan)
}

func runLB(ctx context.Context, t Tools, plan lbPlan) ([]Row, error) {
	m, err := measureLB(ctx, t, plan)
	if err != nil {
		return nil, err
	}
	return lbRows(Version(t.HAProxy, "-v"), plan, m), nil
}

// lbMeasure is what measureLB measured: by lab policy name, through the
// lab's load balancer and through HAProxy, and how many runs were done
// again because the machine stalled them.
type lbMeasure struct {
	lab, real map[string]lbResult
	redone    int
}

// measureLB runs the step's trace through each policy of the lab's load
// balancer and HAProxy's.
func measureLB(ctx context.Context, t Tools, plan lbPlan) (*lbMeasure, error) {
	if t.HAProxy == "" {
		return nil, fmt.Errorf("%w: haproxy", ErrMissing)
	}
	sys, err := engine.NewSystem(plan.seed)
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	front, webs, err := buildLBStep(sys, plan.seed)
	if err != nil {
		return nil, err
	}
	sys.Start()

	var backends []haproxyBackend
	for _, p := range lbPolicies {
		backends = append(backends, haproxyBackend{name: strings.ReplaceAll(p.lab, "-", "_"), balance: p.haproxy})
	}
	// paired: HAProxy fronts a twin of the tier, in a system of its own,
	// and both sides run at once
	realSys, realWebs := sys, webs
	if plan.paired {
		if realSys, err = engine.NewSystem(plan.seed); err != nil {
			return nil, err
		}
		defer realSys.Close()
		if _, realWebs, err = buildLBStep(realSys, plan.seed); err != nil {
			return nil, err
		}
		realSys.Start()
	}
	hp, err := startHAProxy(ctx, t.HAProxy, realSys.Token, realWebs, backends)
	if err != nil {
		return nil, err
	}
	defer hp.Close()

	m := &lbMeasure{lab: map[string]lbResult{}, real: map[string]lbResult{}}
	for i, p := range lbPolicies {
		if err := front.SetPolicy(p.lab); err != nil {
			return nil, err
		}
		labURL, realURL := front.URL(), "http://"+hp.addrs[i]
		// a pair of runs the machine stalled is done again, while the
		// budget lasts; the least stalled pair counts
		for try := 0; ; try++ {
			var l, r lbResult
			if plan.paired {
				l, r, err = replayPair(ctx, sys, realSys, plan, labURL, realURL)
			} else {
				// in turn lab first and HAProxy first
				l, r, err = replayInTurn(ctx, sys, plan, labURL, realURL, i%2 == 1)
			}
			if err != nil {
				return nil, fmt.Errorf("%s / balance %s: %w", p.lab, p.haproxy, err)
			}
			stall := max(l.stall, r.stall)
			if try == 0 || stall < max(m.lab[p.lab].stall, m.real[p.lab].stall) {
				m.lab[p.lab], m.real[p.lab] = l, r
			}
			if stall <= plan.maxStall || m.redone >= plan.maxRedo {
				break
			}
			m.redone++
		}
	}
	return m, nil
}

// lbRows turns the measures into rows.
func lbRows(against string, plan lbPlan, m *lbMeasure) []Row {
	lab, real := m.lab, m.real
	var rows []Row
	ms := func(d time.Duration) float64 { return engine.Ms(d) }
	for _, p := range lbPolicies {
		l, r := lab[p.lab], real[p.lab]
		cas := fmt.Sprintf("ch3 step 1, 540 req/s, %s vs balance %s", p.lab, p.haproxy)
		rows = append(rows,
			within50(Within("lb", cas, "p50_ms", against, ms(l.p50), ms(r.p50), 0.5*ms(r.p50), "±50% of real")),
			within50(Within("lb", cas, "p99_ms", against, ms(l.p99), ms(r.p99), 0.5*ms(r.p99), "±50% of real")),
			Within("lb", cas, "failed_pct", against, failedPct(l), failedPct(r), 1, "±1 point"),
		)
	}
	ratio := func(m map[string]lbResult) float64 {
		rr := m[lb.PolicyRoundRobin].p99
		if rr <= 0 {
			return 0
		}
		return float64(m[lb.PolicyLeastConn].p99) / float64(rr)
	}
	cas := fmt.Sprintf("ch3 step 1, 540 req/s, %s windows", plan.measure)
	if m.redone > 0 {
		cas += fmt.Sprintf(" (%d run(s) done again: the machine stalled them over %s)", m.redone, plan.maxStall)
	}
	rows = append(rows, Within("lb", cas, "p99_least_conn/p99_round_robin", against,
		ratio(lab), ratio(real), 0.1, "±0.1"))
	return rows
}

// within50 fails a row whose real measure is missing.
func within50(r Row) Row {
	if r.Real <= 0 {
		r.Pass = false
	}
	return r
}

func failedPct(r lbResult) float64 {
	if n := r.ok + r.failed; n > 0 {
		return 100 * float64(r.failed) / float64(n)
	}
	return 100
}

// buildLBStep builds chapter 3 step 1's topology as chapters/loadbalancer's
// buildLB does: db-1, the lab's load balancer lb-1 (round robin, health
// checks, one retry) and the private web servers as its targets. It
// returns the load balancer and the web servers' addresses.
func buildLBStep(sys *engine.System, seed int64) (*lb.LB, []webAddr, error) {
	db, err := sqldb.NewDBNode(sys, sqldb.DBConfig{Name: "db-1", Size: "xlarge", Work: lbStep.work, Shape: sqldb.DefaultShape(), Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	if err := sys.AddNode(db); err != nil {
		return nil, nil, err
	}
	cfg := lb.DefaultLBConfig("lb-1")
	cfg.Seed = seed
	front, err := lb.NewLB(cfg, sys)
	if err != nil {
		return nil, nil, err
	}
	if err := sys.AddNode(front); err != nil {
		return nil, nil, err
	}
	var webs []webAddr
	for _, size := range lbStep.sizes {
		name := sys.NextName("web")
		link := sys.AddLink(front.Name(), name)
		store := engine.Store(sqldb.NewDBClient(sys, db, sys.AddLink(name, db.Name()), nil))
		w, err := web.NewWebNode(sys, web.WebConfig{Name: name, Size: size, Work: lbStep.work, Private: true, Store: func() engine.Store { return store }})
		if err != nil {
			return nil, nil, err
		}
		if err := sys.AddNode(w); err != nil {
			return nil, nil, err
		}
		front.AddTarget(w, link)
		webs = append(webs, webAddr{name: name, addr: w.Addr()})
	}
	return front, webs, nil
}

// replayPair replays the trace through both sides at once, each in front
// of its own tier.
func replayPair(ctx context.Context, labSys, realSys *engine.System, plan lbPlan, labURL, realURL string) (lab, real lbResult, err error) {
	var labErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lab, labErr = replay(ctx, labSys, plan, func() string { return labURL })
	}()
	real, err = replay(ctx, realSys, plan, func() string { return realURL })
	wg.Wait()
	if labErr != nil {
		return lab, real, fmt.Errorf("lab: %w", labErr)
	}
	if err != nil {
		return lab, real, fmt.Errorf("haproxy: %w", err)
	}
	return lab, real, nil
}

// replayInTurn replays the trace through one side then the other, in
// front of the same tier.
func replayInTurn(ctx context.Context, sys *engine.System, plan lbPlan, labURL, realURL string, realFirst bool) (lab, real lbResult, err error) {
	runLab := func() (err error) {
		if lab, err = replay(ctx, sys, plan, func() string { return labURL }); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		return nil
	}
	runReal := func() (err error) {
		if real, err = replay(ctx, sys, plan, func() string { return realURL }); err != nil {
			return fmt.Errorf("haproxy: %w", err)
		}
		return nil
	}
	first, second := runLab, runReal
	if realFirst {
		first, second = runReal, runLab
	}
	if err := first(); err != nil {
		return lab, real, err
	}
	return lab, real, second()
}

// replay sends the step's trace to entry: warm-up, then the measured
// window, then no new requests while the last ones finish (for up to the
// tail; any still out then are cancelled and not counted). Latency is
// measured by the engine's load generator from each request's intended
// send time, so queueing shows.
func replay(ctx context.Context, sys *engine.System, plan lbPlan, entry func() string) (lbResult, error) {
	var (
		mu     sync.Mutex
		res    lbResult
		hist   = engine.NewHist()
		clock  = sys.Clock
		start  = clock.Now()
		from   = start + plan.warm
		to     = from + plan.measure
		closed bool
	)
	cfg := engine.DefaultLoadConfig()
	cfg.Rate, cfg.Mix, cfg.Seed = lbStep.rate, lbStep.mix, plan.seed
	cfg.Keys = sqldb.DefaultShape().Users
	cfg.Entry = entry
	cfg.Observe = func(_ engine.Op, _, _ int, lat time.Duration, reason, _ string) {
		sent := clock.Now() - lat
		mu.Lock()
		defer mu.Unlock()
		if closed || sent < from || sent >= to {
			return
		}
		if reason != "" {
			res.failed++
			return
		}
		res.ok++
		engine.RecordHist(hist, lat)
	}
	load, err := engine.NewLoad(cfg, clock)
	if err != nil {
		return res, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		load.Run(runCtx)
	}()
	stalls := make(chan time.Duration, 1)
	go func() { stalls <- watchStalls(runCtx, clock, from, to) }()
	err = clock.SleepUntil(ctx, to)
	load.SetRate(0)
	// the requests still out finish, up to the tail
	for err == nil && load.Totals().Unfinished > 0 && clock.Now() < to+plan.tail {
		err = clock.Sleep(ctx, 5*time.Millisecond)
	}
	cancel()
	<-done
	res.stall = <-stalls
	mu.Lock()
	defer mu.Unlock()
	closed = true
	if err != nil {
		return res, err
	}
	q := engine.QuantilesOf(hist)
	res.p50, res.p99 = q.P50, q.P99
	if res.ok == 0 {
		return res, errors.New("no request succeeded")
	}
	return res, nil
}

// watchStalls ticks every millisecond and returns how late the latest
// tick was between from and to (lab time).
func watchStalls(ctx context.Context, clock *engine.Clock, from, to time.Duration) time.Duration {
	var worst time.Duration
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return worst
		case now := <-tick.C:
			if t := clock.Now(); t >= from && t < to {
				worst = max(worst, now.Sub(last)-time.Millisecond)
			}
			last = now
		}
	}
}
