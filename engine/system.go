package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// TickEvery is how often a snapshot is published, in lab time.
const TickEvery = 250 * time.Millisecond

// System is one running lab: the clock, the nodes, their links, the load
// and the snapshots. New has no side effects but making a temp directory;
// Start starts the load and the ticker; Close stops everything and removes
// every file.
type System struct {
	Clock  *Clock
	Events *EventLog
	// Token is what the load balancer sends to private servers.
	Token string
	// Dir holds every file of the lab; Close removes it.
	Dir string
	// Load is the traffic generator; nil until SetLoad.
	Load *Load

	mu       sync.Mutex
	nodes    []Node
	links    []*Link
	knobs    []*Knob
	gauges   []func() []Gauge
	charts   []func() Chart
	tables   []func() Table
	handlers map[Kind]handler
	cuts     *cutSet
	aliases  map[string]func() []Node
	limits   map[Role]int
	rng      *rand.Rand

	pubMu   sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	subs    []chan Snapshot
	closers []func() error
	closed  bool
	started bool
}

// NewSystem makes an empty system whose files live under a new temporary
// directory.
func NewSystem(seed int64) (*System, error) {
	dir, err := os.MkdirTemp("", "scalelab-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	var b [8]byte
	_, _ = crand.Read(b[:])
	clock := NewClock()
	clock.Pause() // lab time starts with the load, not while the topology is built
	ctx, cancel := context.WithCancel(context.Background())
	return &System{
		Clock:    clock,
		Events:   NewEventLog(clock),
		Token:    hex.EncodeToString(b[:]),
		Dir:      dir,
		handlers: map[Kind]handler{},
		cuts:     &cutSet{},
		aliases:  map[string]func() []Node{},
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x5ca1e1ab)),
		ctx:      ctx,
		cancel:   cancel,
	}, nil
}

// Context ends when the system closes; components run their loops on it.
func (s *System) Context() context.Context { return s.ctx }

// Go runs fn on a goroutine the system waits for in Close.
func (s *System) Go(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// OnClose registers cleanup run by Close, last registered first.
func (s *System) OnClose(fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, fn)
}

// AddNode starts n (if it is not up yet) and puts it in the topology.
func (s *System) AddNode(n Node) error {
	if srv, ok := n.(interface{ Start() error }); ok && n.Addr() == "" {
		if err := srv.Start(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = append(s.nodes, n)
	return nil
}

// RemoveNode closes the named node and takes it and its links out.
func (s *System) RemoveNode(name string) error {
	s.mu.Lock()
	var n Node
	for i, x := range s.nodes {
		if x.Name() == name {
			n = x
			s.nodes = append(s.nodes[:i:i], s.nodes[i+1:]...)
			break
		}
	}
	links := s.links[:0:0]
	for _, l := range s.links {
		if l.From != name && l.To != name {
			links = append(links, l)
		}
	}
	s.links = links
	s.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%q: %w", name, ErrUnknownTarget)
	}
	return n.Close()
}

// Nodes returns the nodes in topology order.
func (s *System) Nodes() []Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Node(nil), s.nodes...)
}

// Node returns the named node.
func (s *System) Node(name string) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.Name() == name {
			return n, true
		}
	}
	return nil, false
}

// NextName returns role-N for the smallest N not in use.
func (s *System) NextName(prefix string) string {
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, ok := s.Node(name); !ok {
			return name
		}
	}
}

// AddKnob registers a chapter setting.
func (s *System) AddKnob(k *Knob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = append(s.knobs, k)
}

// AddGauges registers a function giving chapter gauges for each snapshot.
func (s *System) AddGauges(fn func() []Gauge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gauges = append(s.gauges, fn)
}

// AddChart registers a function giving a chapter chart for each snapshot.
func (s *System) AddChart(fn func() Chart) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.charts = append(s.charts, fn)
}

// AddTable registers a function giving a chapter table for each snapshot.
func (s *System) AddTable(fn func() Table) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables = append(s.tables, fn)
}

// Handle makes fn carry out actions of kind k in this topology: add,
// remove and drain, or a kind of a component's own (a CDN's deploy). Any
// action of kind k passes Check; HandleChecked says which do not.
func (s *System) Handle(k Kind, fn func(Action) error) { s.HandleChecked(k, nil, fn) }

// HandleChecked is Handle with check, which tells without doing anything
// whether fn would take an action: the role an add makes, the nodes a
// remove or drain may take (nodes is what the action's target resolves to
// now, nil for other kinds). Check and Apply run it before fn, so a chaos
// script is refused whole, before anything starts. Its errors should wrap
// ErrNotSupported.
func (s *System) HandleChecked(k Kind, check func(a Action, nodes []Node) error, fn func(Action) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[k] = handler{check: check, do: fn}
}

// handler carries out one kind of action; check, when not nil, vets it.
type handler struct {
	check func(Action, []Node) error
	do    func(Action) error
}

// SetLoad installs the traffic generator; Start starts it.
func (s *System) SetLoad(l *Load) { s.Load = l }

// Start starts the load and the snapshot ticker.
func (s *System) Start() {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	s.Clock.Resume()
	if s.Load != nil {
		s.Go(s.Load.Run)
	}
	s.Go(func(ctx context.Context) {
		s.Clock.Every(ctx, TickEvery, func(time.Duration) { s.publish() })
	})
}

// Subscribe returns a channel that always holds the newest snapshot; a slow
// reader misses old ones, and publishing never blocks.
func (s *System) Subscribe() <-chan Snapshot {
	ch := make(chan Snapshot, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, ch)
	return ch
}

func (s *System) publish() {
	// one publisher at a time, so a pause's snapshot is never overtaken by
	// an older tick's
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	snap := s.Snapshot()
	s.mu.Lock()
	subs := s.subs
	s.mu.Unlock()
	for _, ch := range subs {
		select {
		case <-ch: // drop the old one
		default:
		}
		select {
		case ch <- snap:
		default:
		}
	}
}

// Snapshot builds a snapshot now.
func (s *System) Snapshot() Snapshot {
	s.mu.Lock()
	nodes := append([]Node(nil), s.nodes...)
	links := append([]*Link(nil), s.links...)
	knobs := append([]*Knob(nil), s.knobs...)
	gauges := append([]func() []Gauge(nil), s.gauges...)
	charts := append([]func() Chart(nil), s.charts...)
	tables := append([]func() Table(nil), s.tables...)
	s.mu.Unlock()

	snap := Snapshot{T: s.Clock.Now(), Paused: s.Clock.Paused(), Speed: s.Clock.Speed()}
	if s.Load != nil {
		s.Load.fill(&snap)
	}
	for _, n := range nodes {
		ns := n.Snap()
		ns.Partitioned = s.cuts.has(ns.Name)
		snap.Nodes = append(snap.Nodes, ns)
	}
	applyOverrides(nodes, snap.Nodes)
	state := map[string]State{}
	for _, ns := range snap.Nodes {
		state[ns.Name] = ns.State
	}
	for _, l := range links {
		rps, _ := l.win.Stats()
		up := !l.down.Load() && !l.Cut() && isUp(state[l.From]) && isUp(state[l.To])
		snap.Links = append(snap.Links, LinkSnap{From: l.From, To: l.To, Latency: time.Duration(l.latency.Load()), RPS: rps, Up: up})
	}
	for _, k := range knobs {
		snap.Knobs = append(snap.Knobs, KnobSnap{Name: k.Name(), Value: k.Value(), Values: k.Values()})
	}
	for _, g := range gauges {
		snap.Gauges = append(snap.Gauges, g()...)
	}
	for _, c := range charts {
		ch := c()
		if n := len(ch.Values); n > SeriesLen {
			ch.Values = ch.Values[n-SeriesLen:]
		}
		snap.Charts = append(snap.Charts, ch)
	}
	for _, t := range tables {
		snap.Tables = append(snap.Tables, t())
	}
	snap.Events, snap.NEvent = s.Events.Last(EventsLen)
	return snap
}

func isUp(st State) bool { return st == StateUp || st == StateSaturated || st == StateDraining }

// Close stops the load and the ticker, closes every node and removes every
// file. It is idempotent.
func (s *System) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.Clock.Resume() // sleepers wake and see the context end
	s.cancel()
	s.wg.Wait()
	var errs []error
	s.mu.Lock()
	closers := s.closers
	nodes := s.nodes
	s.mu.Unlock()
	for i := len(nodes) - 1; i >= 0; i-- {
		errs = append(errs, nodes[i].Close())
	}
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	errs = append(errs, os.RemoveAll(s.Dir))
	return errors.Join(errs...)
}
