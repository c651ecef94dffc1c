package lb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"scalelab/engine"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrDraining is returned by Drain for a target that is already draining.
var ErrDraining = errors.New("already draining")

// maxRetryBody is the largest request body the load balancer keeps so it can
// resend it to another target; a bigger body is streamed and not retried.
const maxRetryBody = 64 << 10

// HealthConfig sets the load balancer's failure detection.
type HealthConfig struct {
	// Enabled turns on active health checks and passive failure detection.
	// Off, a dead target keeps getting its share of the traffic.
	Enabled bool
	// Interval is the lab time between checks of a target (default 1s).
	// Shorter finds a dead target sooner and costs more check traffic.
	Interval time.Duration
	// Timeout is the lab time a check may take (default 500ms). Shorter
	// ejects slow targets as if they were dead.
	Timeout time.Duration
	// Rise is how many checks in a row must pass to put a target back
	// (default 2). Higher avoids flapping and delays recovery.
	Rise int
	// Fall is how many failures in a row take a target out (default 2), for
	// checks and for connection failures of real requests alike. Lower
	// reacts faster and ejects on a single blip.
	Fall int
	// Path is what a check GETs (default "/health").
	Path string
}

// LBConfig describes a load balancer.
type LBConfig struct {
	// Name is the node's name, e.g. "lb-1".
	Name string
	// Policy picks a target per request: round-robin, least-conn, p2c (two
	// random choices), hash-cookie (the "uid" cookie: sticky users) or
	// hash-ip (the client's address).
	Policy string
	Health HealthConfig
	// Retries (0–2) is how many other targets a request may try when a
	// target refuses or drops the connection before answering. Retries hide
	// a dead target from users; each costs the latency of the failed try.
	Retries int
	// Seed drives the random choices of p2c.
	Seed int64
}

// DefaultLBConfig is round robin with health checks on and one retry.
func DefaultLBConfig(name string) LBConfig {
	return LBConfig{
		Name:    name,
		Policy:  PolicyRoundRobin,
		Health:  HealthConfig{Enabled: true, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Path: "/health"},
		Retries: 1,
		Seed:    1,
	}
}

// withDefaults fills zero health fields.
func (c LBConfig) withDefaults() LBConfig {
	h := &c.Health
	if h.Interval == 0 {
		h.Interval = time.Second
	}
	if h.Timeout == 0 {
		h.Timeout = 500 * time.Millisecond
	}
	if h.Rise == 0 {
		h.Rise = 2
	}
	if h.Fall == 0 {
		h.Fall = 2
	}
	if h.Path == "" {
		h.Path = "/health"
	}
	if c.Policy == "" {
		c.Policy = PolicyRoundRobin
	}
	return c
}

// Validate checks a configuration; zero health fields mean their defaults.
func (c LBConfig) Validate() error {
	h := c.Health
	switch {
	case c.Name == "":
		return errors.New("load balancer has no name")
	case c.Policy != "" && !slices.Contains(PolicyNames(), c.Policy):
		return fmt.Errorf("%s: policy %q is not one of %s", c.Name, c.Policy, strings.Join(PolicyNames(), ", "))
	case c.Retries < 0 || c.Retries > 2:
		return fmt.Errorf("%s: retries %d is not between 0 and 2", c.Name, c.Retries)
	case h.Interval < 0 || h.Timeout < 0:
		return fmt.Errorf("%s: health interval and timeout must not be negative", c.Name)
	case h.Rise < 0 || h.Fall < 0:
		return fmt.Errorf("%s: health rise and fall must not be negative", c.Name)
	case h.Path != "" && !strings.HasPrefix(h.Path, "/"):
		return fmt.Errorf("%s: health path %q must start with /", c.Name, h.Path)
	}
	return nil
}

// TargetSnap is one target as the load balancer sees it.
type TargetSnap struct {
	Name     string
	Healthy  bool  // in service as far as health checks know
	Draining bool  // gets no new requests
	Active   int64 // requests in flight
	Requests int64 // requests sent to it, retries included
	Failures int64 // connection failures, 5xx answers and broken bodies
}

// target is one member of the target group.
type target struct {
	name string
	node engine.Node
	link *engine.Link
	host string // host:port, "" to ask node

	active    atomic.Int64
	requests  atomic.Int64
	failures  atomic.Int64
	connFails atomic.Int64 // connection failures in a row (passive detection)

	// Written under LB.mu, read anywhere.
	healthy  atomic.Bool
	draining atomic.Bool
	removed  atomic.Bool

	checking atomic.Bool // a health check is running
	passes   int         // checks passed in a row; under LB.mu
	fails    int         // checks failed in a row; under LB.mu

	drainOnce sync.Once
	drained   chan struct{} // closed when draining and idle
	gone      chan struct{} // closed when removed
}

func newTarget(n engine.Node, link *engine.Link) *target {
	t := &target{name: n.Name(), node: n, link: link, host: n.Addr(), drained: make(chan struct{}), gone: make(chan struct{})}
	t.healthy.Store(true)
	return t
}

func (t *target) addr() string {
	if t.host != "" {
		return t.host
	}
	return t.node.Addr()
}

func (t *target) signalDrained() { t.drainOnce.Do(func() { close(t.drained) }) }

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
	lb.Server = engine.NewServer(engine.ServerConfig{Name: cfg.Name, Role: RoleLB, Layer: engine.LayerEntry}, sys.Clock, sys.Events, http.HandlerFunc(lb.serveHTTP))
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

// SetHealthChecks turns failure detection on or off live. Either way every
// target starts over as healthy: off, nobody is watching; on, the checks
// find the dead ones again within Interval×Fall.
func (lb *LB) SetHealthChecks(on bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.healthOn.Store(on)
	for _, t := range lb.targets {
		t.healthy.Store(true)
		t.passes, t.fails = 0, 0
		t.connFails.Store(0)
		if t.link != nil {
			t.link.SetDown(false)
		}
	}
	lb.rebuildLocked()
}

// rebuildLocked recomputes the eligible targets; the caller holds mu.
func (lb *LB) rebuildLocked() {
	on := lb.healthOn.Load()
	el := make([]*target, 0, len(lb.targets))
	for _, t := range lb.targets {
		if t.draining.Load() || (on && !t.healthy.Load()) {
			continue
		}
		el = append(el, t)
	}
	lb.eligible.Store(&el)
}

func (lb *LB) findLocked(name string) *target {
	for _, t := range lb.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// AddTarget puts n in the target group, healthy, at once. link, when not
// nil, is the hop from the load balancer to n. Adding a name already in the
// group does nothing.
func (lb *LB) AddTarget(n engine.Node, link *engine.Link) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.findLocked(n.Name()) != nil {
		return
	}
	t := newTarget(n, link)
	lb.targets = append(lb.targets[:len(lb.targets):len(lb.targets)], t)
	lb.rebuildLocked()
	if link != nil {
		link.SetDown(false)
	}
	lb.sys.Events.Add(engine.EvAdd, t.name, "joined %s's target group (%d targets)", lb.cfg.Name, len(lb.targets))
}

// RemoveTarget takes the named target out at once; requests in flight to it
// finish.
func (lb *LB) RemoveTarget(name string) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.findLocked(name)
	if t == nil {
		return lb.unknownLocked(name)
	}
	lb.removeLocked(t)
	lb.sys.Events.Add(EvRemove, name, "left %s's target group (%d targets)", lb.cfg.Name, len(lb.targets))
	return nil
}

func (lb *LB) unknownLocked(name string) error {
	have := make([]string, len(lb.targets))
	for i, t := range lb.targets {
		have[i] = t.name
	}
	return fmt.Errorf("%q is not a target of %s (have %s): %w", name, lb.cfg.Name, strings.Join(have, ", "), engine.ErrUnknownTarget)
}

// removeLocked takes t out of the group; it reports false if t was not in it.
func (lb *LB) removeLocked(t *target) bool {
	for i, x := range lb.targets {
		if x == t {
			lb.targets = append(lb.targets[:i:i], lb.targets[i+1:]...)
			t.removed.Store(true)
			close(t.gone)
			lb.rebuildLocked()
			if t.link != nil {
				t.link.SetDown(true)
			}
			return true
		}
	}
	return false
}

// Drain stops new requests to the named target. When its requests in flight
// have finished it leaves the group (event drained) and onDrained, if not
// nil, is called on a goroutine the load balancer waits for in Close.
func (lb *LB) Drain(name string, onDrained func()) error {
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		return fmt.Errorf("%s: %w", lb.cfg.Name, net.ErrClosed)
	}
	t := lb.findLocked(name)
	if t == nil {
		err := lb.unknownLocked(name)
		lb.mu.Unlock()
		return err
	}
	if t.draining.Load() {
		lb.mu.Unlock()
		return fmt.Errorf("%s: %w", name, ErrDraining)
	}
	t.draining.Store(true)
	lb.rebuildLocked()
	lb.sys.Events.Add(EvDrain, name, "no new requests; %d in flight", t.active.Load())
	lb.wg.Add(1)
	lb.mu.Unlock()
	// A request that picked t before it was marked sees draining after
	// counting itself in, and backs out or signals when it ends.
	if t.active.Load() == 0 {
		t.signalDrained()
	}
	go func() {
		defer lb.wg.Done()
		select {
		case <-t.drained:
		case <-t.gone:
			return
		case <-lb.ctx.Done():
			return
		}
		lb.mu.Lock()
		ok := lb.removeLocked(t)
		if ok {
			lb.sys.Events.Add(EvDrained, name, "idle; left %s's target group (%d targets)", lb.cfg.Name, len(lb.targets))
		}
		lb.mu.Unlock()
		if ok && onDrained != nil {
			onDrained()
		}
	}()
	return nil
}

// Targets returns the target group, in the order targets joined.
func (lb *LB) Targets() []TargetSnap {
	lb.mu.Lock()
	ts := lb.targets
	lb.mu.Unlock()
	out := make([]TargetSnap, len(ts))
	for i, t := range ts {
		out[i] = TargetSnap{
			Name:     t.name,
			Healthy:  t.healthy.Load(),
			Draining: t.draining.Load(),
			Active:   t.active.Load(),
			Requests: t.requests.Load(),
			Failures: t.failures.Load(),
		}
	}
	return out
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
	var b strings.Builder
	b.WriteString(lb.Policy())
	if lb.healthOn.Load() {
		fmt.Fprintf(&b, " · %d/%d healthy", healthy, len(ts))
	} else {
		fmt.Fprintf(&b, " · %d targets · health off", len(ts))
	}
	if draining > 0 {
		fmt.Fprintf(&b, " · %d draining", draining)
	}
	fmt.Fprintf(&b, " · retries %d", lb.Retries())
	n.Detail = b.String()
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

// --- health ---

// checkAll starts a check of every target that has none running, so a slow
// target never delays the others.
func (lb *LB) checkAll() {
	if !lb.healthOn.Load() || lb.Server.State() != engine.StateUp {
		return // a dead load balancer checks nothing
	}
	lb.mu.Lock()
	ts := lb.targets
	lb.mu.Unlock()
	for _, t := range ts {
		if !t.checking.CompareAndSwap(false, true) {
			continue
		}
		lb.wg.Add(1)
		lb.sys.Go(func(context.Context) {
			defer lb.wg.Done()
			defer t.checking.Store(false)
			lb.check(t)
		})
	}
}

// check GETs the health path of t once and counts the result.
func (lb *LB) check(t *target) {
	h := lb.cfg.Health
	ctx, cancel := lb.sys.Clock.WithTimeout(lb.ctx, h.Timeout)
	defer cancel()
	pass := lb.probe(ctx, t, h.Path)
	if lb.ctx.Err() != nil {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if !lb.healthOn.Load() || t.removed.Load() {
		return
	}
	if pass {
		t.fails = 0
		t.passes++
		if !t.healthy.Load() && t.passes >= h.Rise {
			t.healthy.Store(true)
			t.connFails.Store(0)
			lb.rebuildLocked()
			if t.link != nil {
				t.link.SetDown(false)
			}
			lb.sys.Events.Add(EvRejoin, t.name, "health check passed %d times", t.passes)
		}
		return
	}
	t.passes = 0
	t.fails++
	if t.healthy.Load() && t.fails >= h.Fall {
		lb.ejectLocked(t, fmt.Sprintf("health check failed %d times", t.fails))
	}
}

// probe reports whether t answered the health path with 2xx or 3xx in time.
func (lb *LB) probe(ctx context.Context, t *target, path string) bool {
	if t.link != nil && t.link.Delay(ctx) != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.addr()+path, nil)
	if err != nil {
		return false
	}
	req.Header.Set(engine.HeaderVia, lb.sys.Token)
	resp, err := lb.checks.RoundTrip(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return err == nil && resp.StatusCode >= 200 && resp.StatusCode < 400
}

// ejectLocked takes a healthy target out; the caller holds mu.
func (lb *LB) ejectLocked(t *target, why string) {
	if !t.healthy.Load() || t.removed.Load() {
		return
	}
	t.healthy.Store(false)
	t.passes = 0
	lb.rebuildLocked()
	if t.link != nil {
		t.link.SetDown(true)
	}
	lb.sys.Events.Add(EvEject, t.name, "%s", why)
}

// connFailed counts a connection failure of a real request (passive
// detection): Fall in a row take the target out.
func (lb *LB) connFailed(t *target) {
	n := t.connFails.Add(1)
	if !lb.healthOn.Load() || n < int64(lb.cfg.Health.Fall) {
		return
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.healthOn.Load() {
		lb.ejectLocked(t, fmt.Sprintf("passive: %d connection failures", n))
	}
}

// --- proxy ---

// pick selects an eligible target not in tried and counts the request in
// flight on it.
func (lb *LB) pick(p Policy, r *http.Request, tried []*target) *target {
	for range 4 {
		el := *lb.eligible.Load()
		if len(tried) > 0 {
			el = without(el, tried)
		}
		t := p.Select(el, r)
		if t == nil {
			return nil
		}
		t.active.Add(1)
		if !t.draining.Load() && !t.removed.Load() {
			return t
		}
		lb.release(t) // began draining or left since the list was built
	}
	return nil
}

func without(ts, drop []*target) []*target {
	out := make([]*target, 0, len(ts))
next:
	for _, t := range ts {
		for _, d := range drop {
			if t == d {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

func (lb *LB) release(t *target) {
	if t.active.Add(-1) == 0 && t.draining.Load() {
		t.signalDrained()
	}
}

func (lb *LB) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := lb.sys.Clock.Now()
	np := lb.policy.Load()
	body, whole, err := readBody(r)
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	retries := lb.Retries()
	if !whole {
		retries = 0 // the body cannot be sent twice
	}
	var triedBuf [3]*target
	tried := triedBuf[:0]
	for attempt := 0; ; attempt++ {
		t := lb.pick(np.p, r, tried)
		if t == nil {
			if attempt == 0 {
				http.Error(w, "no healthy targets", http.StatusServiceUnavailable)
			} else {
				http.Error(w, "bad gateway: no other healthy target to retry on", http.StatusBadGateway)
			}
			return
		}
		t.requests.Add(1)
		resp, err := lb.roundTrip(r, t, body, whole)
		if err != nil {
			lb.release(t)
			if r.Context().Err() != nil {
				return // the client left, or this load balancer was killed
			}
			t.failures.Add(1)
			lb.connFailed(t)
			tried = append(tried, t)
			if attempt < retries {
				continue
			}
			http.Error(w, "bad gateway: "+t.name+": "+shortErr(err), http.StatusBadGateway)
			return
		}
		if t.connFails.Load() != 0 {
			t.connFails.Store(0)
		}
		ok := lb.copyResponse(w, resp)
		lb.release(t)
		if !ok || resp.StatusCode >= 500 {
			t.failures.Add(1)
		}
		if !ok {
			// The target died mid-answer: break the client's connection
			// rather than hand it a truncated body.
			panic(http.ErrAbortHandler)
		}
		if resp.StatusCode < 500 {
			d := lb.sys.Clock.Now() - start
			np.mu.Lock()
			engine.RecordHist(np.hist, d)
			np.mu.Unlock()
		}
		return
	}
}

// readBody keeps up to maxRetryBody of the request body so it can be
// resent; whole is false when the body is bigger (buf is then its start).
func readBody(r *http.Request) (buf []byte, whole bool, err error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true, nil
	}
	if r.ContentLength > maxRetryBody {
		return nil, false, nil
	}
	buf, err = io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if err != nil {
		return nil, false, err
	}
	return buf, len(buf) <= maxRetryBody, nil
}

// removeHopHeaders drops the headers meaningful for one connection only.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range [...]string{
		"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	} {
		delete(h, name)
	}
}

// roundTrip sends r to t over its link. An error means no answer came back.
func (lb *LB) roundTrip(r *http.Request, t *target, body []byte, whole bool) (*http.Response, error) {
	ctx := r.Context()
	if t.link != nil {
		if err := t.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	out := r.Clone(ctx)
	out.URL.Scheme = "http"
	out.URL.Host = t.addr()
	out.RequestURI = ""
	out.Close = false
	switch {
	case !whole:
		out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	case len(body) > 0:
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
	default:
		out.Body = nil
		out.ContentLength = 0
	}
	out.GetBody = nil
	removeHopHeaders(out.Header)
	out.Header.Set(engine.HeaderVia, lb.sys.Token)
	ip := clientIP(r)
	if prior := out.Header["X-Forwarded-For"]; len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	out.Header["X-Forwarded-For"] = []string{ip}
	return lb.transport.RoundTrip(out)
}

// copyResponse writes resp to w and closes its body. It reports false when
// reading from the target failed part way; a client that went away is not
// the target's failure.
func (lb *LB) copyResponse(w http.ResponseWriter, resp *http.Response) bool {
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	bp := lb.bufs.Get().(*[]byte)
	defer lb.bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return true
			}
		}
		switch {
		case rerr == io.EOF:
			return true
		case rerr != nil:
			return false
		}
	}
}

// shortErr names a transport error briefly for a 502 body.
func shortErr(err error) string {
	switch engine.Classify(err, nil) {
	case engine.ReasonRefused:
		return "connection refused"
	case engine.ReasonReset:
		return "connection reset"
	case engine.ReasonTimeout:
		return "timeout"
	}
	return err.Error()
}
