package kv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"scalelab/engine"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// KVNode is a Redis server on loopback, reached through a real Redis
// client, with the lifecycle every node shares: miniredis inside the lab's
// process, or a real redis-server process when the lab runs with one (see
// UseServer). A kill closes it (a real server gets SIGKILL); a restart
// brings it back on the same port with its data (as Redis with persistence
// would: a real server fsyncs every write to its AOF before it answers),
// or empty when it is a cache.
//
// Time: the lab drives miniredis' clock (Advance, SetTime), so its TTLs
// and stream idle times are lab time. A real server keeps wall time, so
// the components that need lab time keep it themselves on a real server
// and hand the server no TTLs (ServerTTL); SetClockNote says which, in
// the inspector.
type KVNode struct {
	*engine.Lifecycle
	mr  *miniredis.Miniredis // nil on a real server
	srv *serverProcess       // nil on miniredis
	rdb *redis.Client        // the node's own client for its key count; real server only

	role     engine.Role
	volatile bool // memory only: a restart comes back empty

	mu        sync.Mutex
	onWipe    []func()             // run when a memory-only node loses its data
	lines     func() []engine.Line // extra inspector lines
	detail    func() engine.Text
	clockNote engine.Text
}

// NewKVNode starts a Redis server on a loopback port.
func NewKVNode(sys *engine.System, name string) (*KVNode, error) {
	return newKVNode(sys, name, RoleKV, false)
}

// NewCacheNode starts a Redis server used as a cache: its role is cache and
// it keeps its data in memory only, so a restart brings it back empty.
func NewCacheNode(sys *engine.System, name string) (*KVNode, error) {
	return newKVNode(sys, name, RoleCache, true)
}

// NewNodeAs starts a Redis server that keeps its data across a restart, in
// a role another component names (a queue's broker).
func NewNodeAs(sys *engine.System, name string, role engine.Role) (*KVNode, error) {
	return newKVNode(sys, name, role, false)
}

func newKVNode(sys *engine.System, name string, role engine.Role, volatile bool) (*KVNode, error) {
	srv, err := CurrentServer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := &KVNode{role: role, volatile: volatile}
	var proc engine.Process = (*redisProcess)(n)
	if srv.Real() {
		dir, err := os.MkdirTemp(sys.Dir, "redis-"+name+"-*")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		n.srv = &serverProcess{srv: srv, dir: dir, persist: !volatile}
		proc = n.srv
	} else {
		n.mr = miniredis.NewMiniRedis()
	}
	cfg := engine.LifecycleConfig{Name: name, Boot: time.Second, Crashed: engine.Textf("kv.crashed", "crashed: connections closed")}
	if volatile {
		cfg.Up = func(addr string) engine.Text {
			return engine.Textf("kv.up_empty", "up on %s, empty: a cache lives in memory", addr)
		}
		cfg.OnKill = n.wipe
	}
	n.Lifecycle = engine.NewLifecycle(cfg, proc, sys.Clock, sys.Events)
	sys.OnClose(n.Close) // a node never added to the system is closed too
	if err := n.Start(); err != nil {
		n.Close()
		return nil, err
	}
	if n.srv != nil {
		n.rdb = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, PoolSize: 2})
	}
	return n, nil
}

// redisProcess is a miniredis KVNode as its lifecycle runs it.
type redisProcess KVNode

func (p *redisProcess) Listen(addr string) (string, error) {
	if addr == "" {
		if err := p.mr.StartAddr("127.0.0.1:0"); err != nil {
			return "", err
		}
		return p.mr.Addr(), nil
	}
	if err := p.mr.Restart(); err != nil {
		return "", err
	}
	if p.volatile {
		p.mr.FlushAll() // memory only: the data died with the process
	}
	return p.mr.Addr(), nil
}

func (p *redisProcess) Crash() { p.mr.Close() }

// Close stops the node for good: a real server's process is killed and
// reaped, and its directory removed.
func (n *KVNode) Close() error {
	err := n.Lifecycle.Close()
	if n.srv != nil {
		if n.rdb != nil {
			n.rdb.Close()
		}
		if rerr := os.RemoveAll(n.srv.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// wipe runs the OnWipe functions: a memory-only node lost its data.
func (n *KVNode) wipe() {
	n.mu.Lock()
	fns := append([]func(){}, n.onWipe...)
	n.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// OnWipe adds a function run when a memory-only node loses its data: at
// each kill (the process and its memory are gone).
func (n *KVNode) OnWipe(fn func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onWipe = append(n.onWipe, fn)
}

// Describe sets the node's one-line detail and its inspector lines.
func (n *KVNode) Describe(detail func() engine.Text, lines func() []engine.Line) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.detail, n.lines = detail, lines
}

// SetClockNote says, for the inspector of a real server, which of the
// node's times its user keeps on the lab clock and which run on the
// server's wall time.
func (n *KVNode) SetClockNote(t engine.Text) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.clockNote = t
}

// Role is kv, or cache for a memory-only node.
func (n *KVNode) Role() engine.Role { return n.role }

// Real reports whether the node is a redis-server process (its own clock is
// wall time) rather than miniredis (whose clock the lab drives).
func (n *KVNode) Real() bool { return n.srv != nil }

// Server is the redis-server the node runs, zero on miniredis.
func (n *KVNode) Server() Server {
	if n.srv == nil {
		return Server{}
	}
	return n.srv.srv
}

// Pid is a real server's process id while it runs; 0 otherwise.
func (n *KVNode) Pid() int {
	if n.srv == nil {
		return 0
	}
	return n.srv.Pid()
}

// Dir is a real server's directory (its AOF and log); "" on miniredis.
func (n *KVNode) Dir() string {
	if n.srv == nil {
		return ""
	}
	return n.srv.dir
}

// Advance moves the server's TTLs on by d of lab time: miniredis' keys
// expire only when the lab moves its clock. A real server's TTLs run on
// wall time by themselves, and nothing is done.
func (n *KVNode) Advance(d time.Duration) {
	if n.mr != nil && d > 0 {
		n.mr.FastForward(d)
	}
}

// SetTime sets the server's clock (stream ids, idle times): miniredis
// takes it; a real server keeps its wall clock, and nothing is done.
func (n *KVNode) SetTime(t time.Time) {
	if n.mr != nil {
		n.mr.SetTime(t)
	}
}

// ServerTTL is the expiry to hand the server for a key that the lab
// expires itself, on its clock, after d: d on miniredis, whose clock the
// lab drives; none (0) on a real server, whose TTLs count wall time and
// would fire early while the lab clock runs slow or stands paused.
func (n *KVNode) ServerTTL(d time.Duration) time.Duration {
	if n.srv != nil {
		return 0
	}
	return d
}

// Keys lists the server's keys.
func (n *KVNode) Keys(ctx context.Context) ([]string, error) {
	if n.mr != nil {
		return n.mr.Keys(), nil
	}
	return n.rdb.Keys(ctx, "*").Result()
}

// DBSize counts the server's keys.
func (n *KVNode) DBSize(ctx context.Context) (int64, error) {
	if n.mr != nil {
		return int64(len(n.mr.Keys())), nil
	}
	if n.State() != engine.StateUp {
		return 0, fmt.Errorf("%s is %s: %w", n.Name(), n.State(), engine.ErrDown)
	}
	return n.rdb.DBSize(ctx).Result()
}

// Record counts one command a client sent, how long it took and whether it
// failed.
func (n *KVNode) Record(d time.Duration, err error) {
	n.Begin()
	n.Done(d, err != nil)
}

// Snap returns the node's state and counters. A real server says so in its
// detail (unless its user describes it) and in two inspector lines: the
// process, and what runs on wall time.
func (n *KVNode) Snap() engine.NodeSnap {
	n.mu.Lock()
	detail, lines, note := n.detail, n.lines, n.clockNote
	n.mu.Unlock()
	s := n.Lifecycle.Snap(n.role, engine.LayerData)
	switch {
	case detail != nil:
		s.Detail = detail()
	case n.srv == nil:
		s.Detail = engine.Textf("kv.detail", "redis · %d keys", len(n.mr.Keys()))
	default:
		s.Detail = n.serverDetail()
	}
	if lines != nil {
		s.Lines = lines()
	}
	if n.srv != nil {
		s.Lines = append(s.Lines, n.serverLines(note)...)
	}
	return s
}

// serverDetail is a real server's detail: its version, pid and key count.
func (n *KVNode) serverDetail() engine.Text {
	pid := n.Pid()
	if pid == 0 || n.State() != engine.StateUp {
		return engine.Textf("kv.detail.server_down", "redis-server %s · no process", n.srv.srv.Version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	keys, err := n.DBSize(ctx)
	if err != nil {
		return engine.Textf("kv.detail.server_nokeys", "redis-server %s · pid %d", n.srv.srv.Version, pid)
	}
	return engine.Textf("kv.detail.server", "redis-server %s · pid %d · %d keys", n.srv.srv.Version, pid, keys)
}

// serverLines are a real server's inspector lines.
func (n *KVNode) serverLines(note engine.Text) []engine.Line {
	proc := engine.Textf("kv.server.volatile", "redis-server %s (%s) · pid %d · memory only: a restart comes back empty", n.srv.srv.Version, n.srv.srv.Path, n.Pid())
	if n.srv.persist {
		proc = engine.Textf("kv.server.aof", "redis-server %s (%s) · pid %d · AOF, fsync always: restarts with every acknowledged write", n.srv.srv.Version, n.srv.srv.Path, n.Pid())
	}
	if note.Empty() {
		note = engine.Textf("kv.server.clock", "wall time, so the lab gives it no TTLs and deletes what expires on the lab clock")
	}
	return []engine.Line{
		{Label: engine.Textf("kv.server.label", "process"), Value: proc},
		{Label: engine.Textf("kv.server.clock_label", "clock"), Value: note},
	}
}
