package queue

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
	"scalelab/engine/internal/hash"
)

// EventLog is an append-only log of order events on the broker: one
// stream, or one per partition ("orders:0", "orders:1", …) with an order's
// events all in the partition of its key. Events are kept (up to the
// retention) and every consumer group reads them at its own pace.
type EventLog struct {
	b    *Broker
	sys  *engine.System
	name string

	mu        sync.Mutex
	parts     int
	retention int // entries kept per stream; 0 keeps everything
	streams   map[string]*logStream
	groups    []*Group
	later     []string // groups that may join later
	appended  int64
}

// logStream is one stream of the log, with the ids appended to it in
// order, so a group's lag and what retention took are the lab's own
// arithmetic (miniredis reports no lag).
type logStream struct {
	mu      sync.Mutex // serialises appends, so ids are recorded in order
	ids     []string
	trimmed int // ids[:trimmed] are no longer in the stream
}

// NewEventLog makes a log of the given name on the broker.
func NewEventLog(sys *engine.System, b *Broker, name string) *EventLog {
	l := &EventLog{b: b, sys: sys, name: name, parts: 1, streams: map[string]*logStream{}}
	sys.HandleChecked(ActReplay, func(a engine.Action, _ []engine.Node) error {
		if l.Group(a.Target) == nil && !l.expected(a.Target) {
			return fmt.Errorf("%q: no such consumer group (have %s): %w", a.Target, strings.Join(append(l.GroupNames(), l.Expected()...), ", "), engine.ErrUnknownTarget)
		}
		return nil
	}, func(a engine.Action) error {
		g := l.Group(a.Target)
		if g == nil {
			return fmt.Errorf("%q has not joined the log yet: %w", a.Target, engine.ErrUnknownTarget)
		}
		return g.Replay(sys.Context())
	})
	sys.Go(func(ctx context.Context) {
		sys.Clock.Every(ctx, 500*time.Millisecond, func(time.Duration) {
			l.trim(ctx)
			for _, g := range l.Groups() {
				_ = g.Refresh(ctx)
			}
		})
	})
	return l
}

// Expect names a group that may join the log later (an `add` creates it),
// so that a chaos script may replay it before it exists.
func (l *EventLog) Expect(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.later = append(l.later, name)
}

// Expected lists the groups that may join later and have not.
func (l *EventLog) Expected() []string {
	var out []string
	l.mu.Lock()
	later := slices.Clone(l.later)
	l.mu.Unlock()
	for _, n := range later {
		if l.Group(n) == nil {
			out = append(out, n)
		}
	}
	return out
}

func (l *EventLog) expected(name string) bool { return slices.Contains(l.Expected(), name) }

// SetPartitions sets how many streams new events are spread over by key
// (1: one stream).
func (l *EventLog) SetPartitions(k int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.parts = max(1, k)
}

// Partitions is the current partition count.
func (l *EventLog) Partitions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts
}

// SetRetention keeps at most n entries per stream (0: all).
func (l *EventLog) SetRetention(n int) {
	l.mu.Lock()
	l.retention = n
	l.mu.Unlock()
	l.trim(l.sys.Context())
}

// StreamOf names the stream an order's events go to with k partitions.
func (l *EventLog) StreamOf(order int64, k int) string {
	if k <= 1 {
		return l.name
	}
	return fmt.Sprintf("%s:%d", l.name, hash.FNV1a(fmt.Sprint(order))%uint64(k))
}

// Streams lists the log's streams that exist, in name order.
func (l *EventLog) Streams() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for s := range l.streams {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func (l *EventLog) stream(name string) (*logStream, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[name]
	if !ok {
		s = &logStream{}
		l.streams[name] = s
	}
	return s, !ok
}

// Append adds an order's events, in order, to its partition's stream.
func (l *EventLog) Append(ctx context.Context, ms []Msg) error {
	if len(ms) == 0 {
		return nil
	}
	k := l.Partitions()
	name := l.StreamOf(ms[0].Order, k)
	s, created := l.stream(name)
	if created {
		// every group reads every stream of the log from its start
		for _, g := range l.Groups() {
			if err := g.attach(ctx, name); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		m.Parts = k
		var id string
		err := l.b.do(func() error {
			var err error
			id, err = l.b.rdb.XAdd(ctx, &redis.XAddArgs{Stream: name, Values: m.values()}).Result()
			return err
		})
		if err != nil {
			return err
		}
		s.ids = append(s.ids, id)
		l.mu.Lock()
		l.appended++
		l.mu.Unlock()
	}
	return nil
}

// trim applies the retention to every stream.
func (l *EventLog) trim(ctx context.Context) {
	l.mu.Lock()
	keep := l.retention
	l.mu.Unlock()
	if keep <= 0 {
		return
	}
	for _, name := range l.Streams() {
		s, _ := l.stream(name)
		s.mu.Lock()
		if len(s.ids)-s.trimmed > keep {
			err := l.b.do(func() error { return l.b.rdb.XTrimMaxLen(ctx, name, int64(keep)).Err() })
			if err == nil {
				s.trimmed = len(s.ids) - keep
			}
		}
		s.mu.Unlock()
	}
}

// Appended is how many events the log has taken.
func (l *EventLog) Appended() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended
}

// Kept is how many events the streams hold now, and the first kept event's
// id on each stream.
func (l *EventLog) Kept() (int64, map[string]string) {
	first := map[string]string{}
	var n int64
	for _, name := range l.Streams() {
		s, _ := l.stream(name)
		s.mu.Lock()
		n += int64(len(s.ids) - s.trimmed)
		if s.trimmed < len(s.ids) {
			first[name] = s.ids[s.trimmed]
		}
		s.mu.Unlock()
	}
	return n, first
}

// position is where a last-delivered id stands on a stream: how many of
// its appended events are at or before it.
func (s *logStream) position(last string) int {
	return sort.Search(len(s.ids), func(i int) bool { return idLess(last, s.ids[i]) })
}

// lag is how many kept events of the log a group has not yet been given,
// from the group's last-delivered id on each stream (XINFO GROUPS) and the
// log's own record of what it appended; pos is that id by stream.
func (l *EventLog) lag(ctx context.Context, g *Group) (lag int64, pos map[string]string, err error) {
	pos = map[string]string{}
	for _, name := range l.Streams() {
		s, _ := l.stream(name)
		var last string
		found := false
		err = l.b.do(func() error {
			gs, err := l.b.rdb.XInfoGroups(ctx, name).Result()
			for _, x := range gs {
				if x.Name == g.cfg.Name {
					last, found = x.LastDeliveredID, true
				}
			}
			return err
		})
		if err != nil {
			return 0, nil, err
		}
		if !found {
			continue
		}
		pos[name] = last
		s.mu.Lock()
		lag += int64(len(s.ids) - max(s.position(last), s.trimmed))
		s.mu.Unlock()
	}
	return lag, pos, nil
}

// Groups are the log's consumer groups, in the order they were added.
func (l *EventLog) Groups() []*Group {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Group(nil), l.groups...)
}

// GroupNames names them.
func (l *EventLog) GroupNames() []string {
	var out []string
	for _, g := range l.Groups() {
		out = append(out, g.cfg.Name)
	}
	return out
}

// Group finds a group by name, or by the name of one of its consumers.
func (l *EventLog) Group(name string) *Group {
	for _, g := range l.Groups() {
		if g.cfg.Name == name {
			return g
		}
		for _, c := range g.Consumers() {
			if c.Name() == name {
				return g
			}
		}
	}
	return nil
}
