package queue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
)

// GroupConfig describes a consumer group: a service reading the log.
type GroupConfig struct {
	Name string
	// Pace is the service's modelled time per event, plus up to Jitter.
	Pace, Jitter time.Duration
	// Consumers is how many consumer nodes share the group (1 unless the
	// step is about ordering); their names are Name, or Name-1, Name-2, ….
	Consumers int
	// Batch is how many events a consumer takes per read (10 when 0).
	Batch int
	// Poll is how often an idle consumer asks (50 ms of lab time when 0).
	Poll time.Duration
	Seed int64
}

// Group is a consumer group and the state its service builds from the
// events: orders counted, revenue summed, and the order each order's
// events were applied in.
type Group struct {
	log *EventLog
	cfg GroupConfig

	mu          sync.Mutex
	members     []*Consumer
	rng         *rand.Rand
	seen        map[string]int   // applications by "stream/id"
	amounts     map[string]int64 // each applied event's amount
	orders      int64
	revenue     int64
	lastSeq     map[int64]int     // by order: the latest event applied
	outOfOrder  map[int]int64     // events applied after a later one of their order, by partition count
	inOrder     map[int]int64     // events applied, by partition count
	replayUntil map[string]string // by stream: the last id when the group (re)started from 0
	replayed    int64
	skipped     int64 // deliveries of events already applied (after a restart)
	lag, missed int64
	pos         map[string]string // by stream: the last id given to the group
	replays     int
}

// AddGroup creates a consumer group reading every stream of the log from
// its start (a late group replays history), and its consumer nodes.
func (l *EventLog) AddGroup(cfg GroupConfig) (*Group, error) {
	if cfg.Consumers < 1 {
		cfg.Consumers = 1
	}
	if cfg.Batch < 1 {
		cfg.Batch = 10
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	g := &Group{log: l, cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e0))}
	g.reset()
	ctx := l.sys.Context()
	for _, s := range l.Streams() {
		if err := g.attach(ctx, s); err != nil {
			return nil, err
		}
	}
	g.markReplay()
	// its lag now, not at the log's next refresh: a late group starts
	// with the whole kept log to read, not with a lag of 0
	_ = g.Refresh(ctx)
	l.mu.Lock()
	l.groups = append(l.groups, g)
	l.mu.Unlock()
	for i := range cfg.Consumers {
		name := cfg.Name
		if cfg.Consumers > 1 {
			name = fmt.Sprintf("%s-%d", cfg.Name, i+1)
		}
		c := &Consumer{g: g, index: i}
		c.member = newMember(l.sys, name, RoleConsumer, c.run, c.status)
		if err := l.sys.AddNode(c); err != nil {
			return nil, err
		}
		g.mu.Lock()
		g.members = append(g.members, c)
		g.mu.Unlock()
	}
	return g, nil
}

func (g *Group) reset() {
	g.seen, g.amounts, g.lastSeq = map[string]int{}, map[string]int64{}, map[int64]int{}
	g.outOfOrder, g.inOrder, g.replayUntil = map[int]int64{}, map[int]int64{}, map[string]string{}
	g.orders, g.revenue, g.replayed, g.skipped = 0, 0, 0, 0
}

// markReplay notes the log's end now: events up to it are history the
// group replays.
func (g *Group) markReplay() {
	until := map[string]string{}
	for _, name := range g.log.Streams() {
		s, _ := g.log.stream(name)
		s.mu.Lock()
		if len(s.ids) > 0 {
			until[name] = s.ids[len(s.ids)-1]
		}
		s.mu.Unlock()
	}
	g.mu.Lock()
	g.replayUntil = until
	g.mu.Unlock()
}

// attach creates the group on a stream, at its start.
func (g *Group) attach(ctx context.Context, stream string) error {
	b := g.log.b
	err := b.do(func() error { return b.rdb.XGroupCreateMkStream(ctx, stream, g.cfg.Name, "0").Err() })
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("group %s on %s: %w", g.cfg.Name, stream, err)
	}
	return nil
}

// Replay resets the group to the start of the log: the broker has no
// XGROUP SETID here, so the group is destroyed and created again at 0,
// and the service drops its state and rebuilds it from what the log kept.
func (g *Group) Replay(ctx context.Context) error {
	b := g.log.b
	g.mu.Lock()
	g.reset()
	g.replays++
	g.mu.Unlock()
	for _, s := range g.log.Streams() {
		if err := b.do(func() error { return b.rdb.XGroupDestroy(ctx, s, g.cfg.Name).Err() }); err != nil {
			return err
		}
		if err := g.attach(ctx, s); err != nil {
			return err
		}
	}
	g.markReplay()
	_ = g.Refresh(ctx) // its lag is the kept log now, not at the next refresh
	kept, _ := g.log.Kept()
	g.log.sys.Events.Add(EvReplay, g.cfg.Name, engine.Textf("queue.replay", "%d kept events replayed from the start", kept))
	return nil
}

// Name is the group's name.
func (g *Group) Name() string { return g.cfg.Name }

// Consumers are its nodes.
func (g *Group) Consumers() []*Consumer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Consumer(nil), g.members...)
}

// apply applies one event to the service's state, at most once per event.
func (g *Group) apply(m Msg) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := m.Stream + "/" + m.ID
	if g.seen[k] > 0 {
		g.skipped++
		return
	}
	g.seen[k]++
	g.amounts[k] = m.Amount
	g.revenue += m.Amount
	if m.Seq <= 1 {
		g.orders++
	}
	parts := max(1, m.Parts)
	g.inOrder[parts]++
	if m.Seq < g.lastSeq[m.Order] {
		g.outOfOrder[parts]++
	} else {
		g.lastSeq[m.Order] = m.Seq
	}
	if until, ok := g.replayUntil[m.Stream]; ok && !idLess(until, m.ID) {
		g.replayed++
	}
}

// GroupState is what a group's service holds and how far it is.
type GroupState struct {
	Name       string
	Applied    int64 // events applied
	Orders     int64
	Revenue    int64 // cents
	Lag        int64 // kept events not yet given to the group
	Missed     int64 // events retention took that the group's state lacks
	Replayed   int64 // events of its history applied since it (re)started from 0
	Skipped    int64 // redelivered events it had applied already
	OutOfOrder map[int]int64
	Events     map[int]int64
	Replays    int
	// Position is, by stream, the last id the broker gave the group
	// (its last-delivered id), as of the last Refresh.
	Position map[string]string
}

// State reports the group's state; Lag and Missed are as of the last
// Refresh.
func (g *Group) State() GroupState {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := GroupState{Name: g.cfg.Name, Orders: g.orders, Revenue: g.revenue, Lag: g.lag, Missed: g.missed, Replayed: g.replayed, Skipped: g.skipped,
		OutOfOrder: map[int]int64{}, Events: map[int]int64{}, Replays: g.replays, Position: maps.Clone(g.pos)}
	for _, n := range g.seen {
		st.Applied += int64(n)
	}
	for k, v := range g.outOfOrder {
		st.OutOfOrder[k] = v
	}
	for k, v := range g.inOrder {
		st.Events[k] = v
	}
	return st
}

// Refresh reads the group's lag from the broker, and counts what it
// missed: events retention took from the log that the group has not
// applied since it (re)started, which its state therefore lacks.
func (g *Group) Refresh(ctx context.Context) error {
	lag, pos, err := g.log.lag(ctx, g)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var missed int64
	for _, name := range g.log.Streams() {
		s, _ := g.log.stream(name)
		s.mu.Lock()
		for _, id := range s.ids[:s.trimmed] {
			if g.seen[name+"/"+id] == 0 {
				missed++
			}
		}
		s.mu.Unlock()
	}
	g.lag, g.missed, g.pos = lag, missed, pos
	return nil
}

// Audit checks the group against the log: of the events the streams keep,
// how many the group applied exactly once, more than once, or not at all.
func (g *Group) Audit() (once, more, none int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, name := range g.log.Streams() {
		s, _ := g.log.stream(name)
		s.mu.Lock()
		for _, id := range s.ids[s.trimmed:] {
			switch g.seen[name+"/"+id] {
			case 0:
				none++
			case 1:
				once++
			default:
				more++
			}
		}
		s.mu.Unlock()
	}
	return once, more, none
}

// Gaps checks the group's history on the log: of the kept events up to
// the latest it applied on each stream, how many it skipped (not applied,
// and not pending: in no consumer's hands) and how many it applied more
// than once. A consumer that resumed from its position has neither.
func (g *Group) Gaps(ctx context.Context) (gaps, dups int64) {
	b := g.log.b
	held := map[string]bool{}
	for _, name := range g.log.Streams() {
		_ = b.do(func() error {
			ps, err := b.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: name, Group: g.cfg.Name, Start: "-", End: "+", Count: 100000}).Result()
			for _, p := range ps {
				held[name+"/"+p.ID] = true
			}
			return err
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, name := range g.log.Streams() {
		s, _ := g.log.stream(name)
		s.mu.Lock()
		ids := s.ids[s.trimmed:]
		last := -1
		for i, id := range ids {
			if g.seen[name+"/"+id] > 0 {
				last = i
			}
		}
		for _, id := range ids[:last+1] {
			switch n := g.seen[name+"/"+id]; {
			case n == 0 && !held[name+"/"+id]:
				gaps++
			case n > 1:
				dups++
			}
		}
		s.mu.Unlock()
	}
	return gaps, dups
}

// Matches compares the state the group rebuilt with another group's, over
// the events both applied: the same events, each once, summing to the same
// revenue. It reports how many events were compared.
func (g *Group) Matches(o *Group) (compared int, equal bool) {
	g.mu.Lock()
	mine := map[string]int64{}
	for k, v := range g.amounts {
		if g.seen[k] == 1 {
			mine[k] = v
		}
	}
	twice := len(g.amounts) != len(mine)
	g.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	var a, b int64
	for k, v := range mine {
		if n, ok := o.seen[k]; ok {
			if n != 1 {
				return compared, false
			}
			compared++
			a += v
			b += o.amounts[k]
		}
	}
	return compared, !twice && a == b
}

// Consumer is one node of a consumer group.
type Consumer struct {
	*member
	g      *Group
	index  int
	inHand int64
	mu     sync.Mutex
}

func (c *Consumer) status() any {
	st := c.g.State()
	return map[string]any{"group": st.Name, "applied": st.Applied, "lag": st.Lag}
}

// streams are the streams this consumer reads: the unpartitioned stream,
// shared by the group's consumers, and the partitions assigned to it.
func (c *Consumer) streams() []string {
	n := len(c.g.Consumers())
	var out []string
	for _, s := range c.g.log.Streams() {
		if s == c.g.log.name {
			out = append(out, s)
			continue
		}
		var p int
		fmt.Sscanf(strings.TrimPrefix(s, c.g.log.name+":"), "%d", &p)
		if n <= 1 || p%n == c.index {
			out = append(out, s)
		}
	}
	return out
}

func (c *Consumer) run(ctx context.Context) {
	g, b, clock := c.g, c.g.log.b, c.g.log.sys.Clock
	backlog := true // after a (re)start, what it held and did not ACK comes first
	for {
		if clock.Sleep(ctx, g.cfg.Poll) != nil {
			return
		}
		streams := c.streams()
		if len(streams) == 0 {
			continue
		}
		from := ">"
		if backlog {
			from = "0"
		}
		args := append([]string{}, streams...)
		for range streams {
			args = append(args, from)
		}
		var xs []redis.XStream
		err := b.do(func() error {
			var err error
			xs, err = b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: g.cfg.Name, Consumer: c.Name(), Streams: args, Count: int64(g.cfg.Batch), Block: -1}).Result()
			return err
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			continue
		}
		got := 0
		for _, s := range xs {
			// the batch is ACKed at its end, in one XACK, as consumers
			// commit a position per batch; a kill in the middle leaves its
			// applied events pending, and the restarted consumer, reading
			// its pending events first, finds them applied and skips them
			var done []string
			for _, x := range s.Messages {
				got++
				m := parseMsg(s.Stream, x)
				c.mu.Lock()
				c.inHand++
				c.mu.Unlock()
				d := g.cfg.Pace
				if g.cfg.Jitter > 0 {
					g.mu.Lock()
					d += time.Duration(g.rng.Int64N(int64(g.cfg.Jitter)))
					g.mu.Unlock()
				}
				start := clock.Now()
				c.Begin()
				err := clock.Sleep(ctx, d)
				c.mu.Lock()
				c.inHand--
				c.mu.Unlock()
				if err != nil {
					c.Done(clock.Now()-start, true)
					return
				}
				g.apply(m)
				done = append(done, m.ID)
				// the node's rate and latency are events handled
				c.Done(clock.Now()-start, false)
			}
			if len(done) > 0 {
				_ = b.do(func() error { return b.rdb.XAck(ctx, s.Stream, g.cfg.Name, done...).Err() })
			}
		}
		if backlog && got == 0 {
			backlog = false
		}
	}
}

// Snap adds the group's position.
func (c *Consumer) Snap() engine.NodeSnap {
	s := c.member.Snap()
	st := c.g.State()
	c.mu.Lock()
	s.InFlight = c.inHand
	c.mu.Unlock()
	s.Detail = engine.Textf("queue.consumer.detail", "group %s · lag %d · applied %d", st.Name, st.Lag, st.Applied)
	return s
}
