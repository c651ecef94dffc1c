package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnknownTarget is returned when an action names no node, link or role.
var ErrUnknownTarget = errors.New("unknown target")

// ErrUnknownKnob is returned by set for a knob the chapter does not have.
var ErrUnknownKnob = errors.New("unknown knob")

// ErrUnknownAction is returned for an action no component of this topology
// carries out.
var ErrUnknownAction = errors.New("unknown action")

// ErrNotSupported is returned for an action this topology cannot do.
var ErrNotSupported = errors.New("not supported here")

// TickEvery is how often a snapshot is published, in lab time.
const TickEvery = 250 * time.Millisecond

// ErrPartitioned is returned by a hop across a cut link.
var ErrPartitioned = errors.New("network partition: link is cut")

// Link is one hop of the topology. The caller of a hop calls Delay before
// sending, so injected latency is spent for real on the lab clock, and a
// partition fails the hop.
type Link struct {
	From, To string
	clock    *Clock
	latency  atomic.Int64
	down     atomic.Bool // the owner (e.g. the LB) has taken To out
	cut      *cutSet
	win      *Window
}

// cutSet holds the partitions in force, shared by a system's links. Each
// partition is a group of nodes cut off from every node outside it.
type cutSet struct {
	mu     sync.RWMutex
	groups []map[string]bool
}

func (c *cutSet) has(name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, g := range c.groups {
		if g[name] {
			return true
		}
	}
	return false
}

// cuts reports whether a partition separates a from b.
func (c *cutSet) cuts(a, b string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, g := range c.groups {
		if g[a] != g[b] {
			return true
		}
	}
	return false
}

// Cut reports whether a partition cuts this link.
func (l *Link) Cut() bool { return l.cut.cuts(l.From, l.To) }

// Delay spends the link's injected latency and counts one use. It fails
// with ErrPartitioned when either end is partitioned.
func (l *Link) Delay(ctx context.Context) error {
	if l.Cut() {
		return fmt.Errorf("%s: %w", l.ID(), ErrPartitioned)
	}
	l.win.Record(0, false)
	if d := time.Duration(l.latency.Load()); d > 0 {
		return l.clock.Sleep(ctx, d)
	}
	return nil
}

// SetLatency injects d on the link.
func (l *Link) SetLatency(d time.Duration) { l.latency.Store(int64(d)) }

// SetDown marks the link as out of use (drawn dashed).
func (l *Link) SetDown(down bool) { l.down.Store(down) }

// ID is "from>to".
func (l *Link) ID() string { return l.From + ">" + l.To }

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
	handlers map[Kind]func(Action) error
	cuts     *cutSet
	aliases  map[string]func() []Node
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
		handlers: map[Kind]func(Action) error{},
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

// AddLink adds a hop from one node to another.
func (s *System) AddLink(from, to string) *Link {
	l := &Link{From: from, To: to, clock: s.Clock, cut: s.cuts, win: NewWindow(s.Clock, 3)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = append(s.links, l)
	return l
}

// RemoveLink takes a link out of the topology.
func (s *System) RemoveLink(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.links {
		if l.ID() == id {
			s.links = append(s.links[:i:i], s.links[i+1:]...)
			return
		}
	}
}

// Link returns the link "from>to".
func (s *System) Link(id string) (*Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.ID() == id {
			return l, true
		}
	}
	return nil, false
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

// Handle makes fn carry out actions of kind k in this topology: add,
// remove and drain, or a kind of a component's own (a CDN's deploy).
func (s *System) Handle(k Kind, fn func(Action) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[k] = fn
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
	snap.Events, snap.NEvent = s.Events.Last(EventsLen)
	return snap
}

func isUp(st State) bool { return st == StateUp || st == StateSaturated || st == StateDraining }

// Partition cuts the group of nodes off from every other node (with cut
// false, heals the partition any of them is in). The nodes stay up: whoever
// is on their side may still use them.
func (s *System) Partition(names []string, cut bool) {
	s.cuts.mu.Lock()
	var changed []map[string]bool
	if cut {
		g := map[string]bool{}
		for _, n := range names {
			g[n] = true
		}
		s.cuts.groups = append(s.cuts.groups, g)
		changed = append(changed, g)
	} else {
		keep := s.cuts.groups[:0]
		for _, g := range s.cuts.groups {
			hit := false
			for _, n := range names {
				hit = hit || g[n]
			}
			if hit {
				changed = append(changed, g)
			} else {
				keep = append(keep, g)
			}
		}
		s.cuts.groups = keep
	}
	s.cuts.mu.Unlock()
	for _, g := range changed {
		var members []string
		for n := range g {
			members = append(members, n)
		}
		sort.Strings(members)
		if cut {
			s.Events.Add(EvPartition, strings.Join(members, ","), "cut off from the rest; still up")
		} else {
			s.Events.Add(EvHeal, strings.Join(members, ","), "links restored")
		}
	}
}

// Alias makes "@name" resolve to whatever fn returns at the time, e.g.
// @primary to the current primary.
func (s *System) Alias(name string, fn func() []Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aliases[name] = fn
}

// Resolve turns a target into nodes: a name, an alias ("@primary"),
// "@role" (every node of the role) or "@random-role" (one up node of the
// role, picked by the seeded random source).
func (s *System) Resolve(target string) ([]Node, error) {
	s.mu.Lock()
	alias := s.aliases[strings.TrimPrefix(target, "@")]
	randAlias := s.aliases[strings.TrimPrefix(target, "@random-")]
	s.mu.Unlock()
	if alias != nil && strings.HasPrefix(target, "@") {
		if n := alias(); len(n) > 0 {
			return n, nil
		}
		return nil, fmt.Errorf("%s: no such node now: %w", target, ErrUnknownTarget)
	}
	if randAlias != nil && strings.HasPrefix(target, "@random-") {
		var up []Node
		for _, n := range randAlias() {
			if isUp(n.State()) {
				up = append(up, n)
			}
		}
		if len(up) == 0 {
			return nil, fmt.Errorf("%s: none is up: %w", target, ErrUnknownTarget)
		}
		s.mu.Lock()
		i := s.rng.IntN(len(up))
		s.mu.Unlock()
		return up[i : i+1], nil
	}
	nodes := s.Nodes()
	if role, ok := strings.CutPrefix(target, "@random-"); ok {
		var up []Node
		for _, n := range nodes {
			if string(n.Role()) == role && isUp(n.State()) {
				up = append(up, n)
			}
		}
		if len(up) == 0 {
			return nil, fmt.Errorf("%s: no %s node is up: %w", target, role, ErrUnknownTarget)
		}
		s.mu.Lock()
		i := s.rng.IntN(len(up))
		s.mu.Unlock()
		return up[i : i+1], nil
	}
	if role, ok := strings.CutPrefix(target, "@"); ok {
		var out []Node
		for _, n := range nodes {
			if string(n.Role()) == role {
				out = append(out, n)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: no node has role %s: %w", target, role, ErrUnknownTarget)
		}
		return out, nil
	}
	for _, n := range nodes {
		if n.Name() == target {
			return []Node{n}, nil
		}
	}
	return nil, fmt.Errorf("%q: no such node (have %s): %w", target, names(nodes), ErrUnknownTarget)
}

func names(nodes []Node) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n.Name())
	}
	return b.String()
}

// Check tells whether an action could apply to this system, without
// applying it: targets, knobs and knob values are checked.
func (s *System) Check(a Action) error {
	switch a.Kind {
	case ActKill, ActRestart:
		_, err := s.Resolve(a.Target)
		return err
	case ActCut, ActHeal:
		for _, t := range strings.Split(a.Target, ",") {
			if _, err := s.Resolve(t); err != nil {
				return err
			}
		}
	case ActLatency:
		if strings.Contains(a.Target, ">") {
			if _, ok := s.Link(a.Target); !ok {
				return fmt.Errorf("%q: no such link: %w", a.Target, ErrUnknownTarget)
			}
			return nil
		}
		_, err := s.Resolve(a.Target)
		return err
	case ActSet:
		k := s.knob(a.Key)
		if k == nil {
			return s.unknownKnob(a.Key)
		}
		return k.Check(a.Str)
	case ActAdd, ActRemove, ActDrain:
		s.mu.Lock()
		_, ok := s.handlers[a.Kind]
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("%s: %w in this chapter", a.Kind, ErrNotSupported)
		}
		if a.Kind == ActRemove || a.Kind == ActDrain {
			_, err := s.Resolve(a.Target)
			return err
		}
	case ActPause, ActResume, ActSpeed:
	default:
		s.mu.Lock()
		_, ok := s.handlers[a.Kind]
		var own []Kind
		for k := range s.handlers {
			if !slices.Contains(coreKinds, k) {
				own = append(own, k)
			}
		}
		s.mu.Unlock()
		if !ok {
			slices.Sort(own)
			return fmt.Errorf("%w %q (want %s)", ErrUnknownAction, a.Kind, kindList(append(slices.Clone(coreKinds), own...)))
		}
	case ActRate, ActSpike:
		if s.Load == nil {
			return fmt.Errorf("%s: no load in this step: %w", a.Kind, ErrNotSupported)
		}
	}
	return nil
}

func (s *System) knob(name string) *Knob {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.knobs {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

func (s *System) unknownKnob(name string) error {
	s.mu.Lock()
	var have []string
	for _, k := range s.knobs {
		have = append(have, k.Name())
	}
	s.mu.Unlock()
	if len(have) == 0 {
		return fmt.Errorf("%q: this step has no knobs: %w", name, ErrUnknownKnob)
	}
	return fmt.Errorf("%q: have %s: %w", name, strings.Join(have, ", "), ErrUnknownKnob)
}

// Apply carries out an action.
func (s *System) Apply(a Action) error {
	if err := s.Check(a); err != nil {
		return err
	}
	switch a.Kind {
	case ActKill, ActRestart:
		nodes, _ := s.Resolve(a.Target)
		var errs []error
		for _, n := range nodes {
			var err error
			if a.Kind == ActKill {
				err = n.Kill()
			} else {
				err = n.Restart()
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	case ActCut, ActHeal:
		var group []string
		for _, t := range strings.Split(a.Target, ",") {
			nodes, _ := s.Resolve(t)
			for _, n := range nodes {
				group = append(group, n.Name())
			}
		}
		s.Partition(group, a.Kind == ActCut)
	case ActLatency:
		if l, ok := s.Link(a.Target); ok {
			l.SetLatency(a.Dur)
		} else {
			nodes, _ := s.Resolve(a.Target)
			for _, n := range nodes {
				n.SetLatency(a.Dur)
			}
		}
		s.Events.Add(EvLatency, a.Target, "+%s", a.Dur)
	case ActRate:
		s.Load.SetRate(a.Value)
		s.Events.Add(EvRate, "load", "%.0f req/s", a.Value)
	case ActSpike:
		s.Load.Spike(a.Value, a.Dur)
		s.Events.Add(EvSpike, "load", "%gx for %s", a.Value, a.Dur)
	case ActSet:
		if err := s.knob(a.Key).Set(a.Str); err != nil {
			return fmt.Errorf("set %s: %w", a.Key, err)
		}
		s.Events.Add(EvSet, a.Key, "%s", a.Str)
	case ActAdd, ActRemove, ActDrain:
		s.mu.Lock()
		h := s.handlers[a.Kind]
		s.mu.Unlock()
		return h(a)
	case ActPause:
		s.Clock.Pause()
		s.Events.Add(EvPause, "clock", "paused")
		s.publish()
	case ActResume:
		s.Clock.Resume()
		s.Events.Add(EvResume, "clock", "running")
	case ActSpeed:
		if err := s.Clock.SetSpeed(a.Value); err != nil {
			return err
		}
		s.Events.Add(EvSpeed, "clock", "%gx", a.Value)
		s.publish()
	default: // a component's action, checked above
		s.mu.Lock()
		h := s.handlers[a.Kind]
		s.mu.Unlock()
		return h(a)
	}
	return nil
}

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
