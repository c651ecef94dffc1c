package lb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"scalelab/engine"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// namedPolicy is a policy with the latency of requests sent under it.
type namedPolicy struct {
	name string
	p    Policy
	mu   sync.Mutex
	hist *hdr.Histogram
}

// LB is an HTTP load balancer: a real reverse proxy on a loopback port,
// public, in front of private targets. It is a node like any other: killing
// it is a total outage.
type LB struct {
	*engine.Server
	cfg      LBConfig
	sys      *engine.System
	policies map[string]*namedPolicy
	policy   atomic.Pointer[namedPolicy]
	healthOn atomic.Bool
	retries  atomic.Int32

	transport *http.Transport // to targets
	checks    *http.Transport // health checks, apart so they never queue behind traffic
	bufs      sync.Pool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	targets  []*target
	eligible atomic.Pointer[[]*target] // healthy (when checked) and not draining; rebuilt under mu
	closed   bool
	once     sync.Once
}

// NewLB makes the load balancer node, registers the lb.policy, lb.health
// and lb.retries knobs on sys and starts the health-check loop on the lab
// clock. The caller adds the node to sys.
func NewLB(cfg LBConfig, sys *engine.System) (*LB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	cfg = cfg.withDefaults()
	sys.Events.Declare(engine.ToneBad, EvEject)
	sys.Events.Declare(engine.ToneGood, EvRejoin, EvDrained)
	sys.Events.Declare(engine.ToneWarn, EvDrain)
	lb := &LB{
		cfg:      cfg,
		sys:      sys,
		policies: map[string]*namedPolicy{},
		transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          4096,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       60 * time.Second,
			DisableCompression:    true,
			ExpectContinueTimeout: time.Second,
		},
		checks: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     10 * time.Second,
			DisableCompression:  true,
		},
		bufs: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }},
	}
	for i, name := range PolicyNames() {
		p, _ := NewPolicy(name, cfg.Seed+int64(i))
		lb.policies[name] = &namedPolicy{name: name, p: p, hist: engine.NewHist()}
	}
	lb.policy.Store(lb.policies[cfg.Policy])
	lb.healthOn.Store(cfg.Health.Enabled)
	lb.retries.Store(int32(cfg.Retries))
	lb.eligible.Store(&[]*target{})
	lb.Server = engine.NewServer(engine.ServerConfig{Name: cfg.Name, Role: RoleLB, Layer: engine.LayerEntry, Listen: cfg.Listen}, sys.Clock, sys.Events, http.HandlerFunc(lb.serveHTTP))
	lb.ctx, lb.cancel = context.WithCancel(sys.Context())

	sys.AddKnob(engine.NewKnob("lb.policy", PolicyNames(), lb.Policy(), lb.SetPolicy))
	sys.AddKnob(engine.NewKnob("lb.health", []string{"on", "off"}, onOff(lb.healthOn.Load()), func(v string) error {
		lb.SetHealthChecks(v == "on")
		return nil
	}))
	sys.AddKnob(engine.NewKnob("lb.retries", []string{"0", "1", "2"}, strconv.Itoa(lb.Retries()), func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		return lb.SetRetries(n)
	}))
	sys.OnClose(lb.Close)

	lb.wg.Add(1)
	sys.Go(func(context.Context) {
		defer lb.wg.Done()
		sys.Clock.Every(lb.ctx, cfg.Health.Interval, func(time.Duration) { lb.checkAll() })
	})
	return lb, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Policy returns the selection policy in force.
func (lb *LB) Policy() string { return lb.policy.Load().name }

// SetPolicy changes the selection policy live.
func (lb *LB) SetPolicy(name string) error {
	p, ok := lb.policies[name]
	if !ok {
		return fmt.Errorf("policy %q is not one of %s: %w", name, strings.Join(PolicyNames(), ", "), engine.ErrUnknownKnob)
	}
	lb.policy.Store(p)
	return nil
}

// Retries returns how many other targets a failed request may try.
func (lb *LB) Retries() int { return int(lb.retries.Load()) }

// SetRetries changes the retry count (0–2) live.
func (lb *LB) SetRetries(n int) error {
	if n < 0 || n > 2 {
		return fmt.Errorf("retries %d is not between 0 and 2", n)
	}
	lb.retries.Store(int32(n))
	return nil
}

// PolicyLatency returns the lab-time latency of requests through the load
// balancer (received to answered, retries included) by the policy in force
// when each arrived, since the start. Only answered requests below 500
// count; policies never used are left out.
func (lb *LB) PolicyLatency() map[string]engine.Quantiles {
	out := map[string]engine.Quantiles{}
	for name, p := range lb.policies {
		p.mu.Lock()
		q := engine.QuantilesOf(p.hist)
		p.mu.Unlock()
		if q.N > 0 {
			out[name] = q
		}
	}
	return out
}

// Snap is the server's snapshot with the policy and target health as Detail.
func (lb *LB) Snap() engine.NodeSnap {
	n := lb.Server.Snap()
	ts := lb.Targets()
	var healthy, draining int
	for _, t := range ts {
		if t.Healthy {
			healthy++
		}
		if t.Draining {
			draining++
		}
	}
	policy := engine.KnobValue(lb.Policy())
	d := engine.Textf("lb.detail.checks", "%s · %d/%d healthy", policy, healthy, len(ts))
	if !lb.healthOn.Load() {
		d = engine.Textf("lb.detail.no_checks", "%s · %s · health off", policy, engine.Plural(len(ts), "target"))
	}
	if draining > 0 {
		d = engine.Textf("lb.detail.draining", "%s · %d draining", d, draining)
	}
	n.Detail = engine.Textf("lb.detail.retries", "%s · retries %d", d, lb.Retries())
	return n
}

// Close stops the node, its health checks and drains, and closes idle
// connections to targets. It is idempotent.
func (lb *LB) Close() error {
	err := lb.Server.Close()
	lb.once.Do(func() {
		lb.mu.Lock()
		lb.closed = true
		lb.mu.Unlock()
		lb.cancel()
		lb.wg.Wait()
		lb.transport.CloseIdleConnections()
		lb.checks.CloseIdleConnections()
	})
	return err
}
