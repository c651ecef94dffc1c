package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// KVNode is a Redis server (miniredis) on loopback, reached through a real
// Redis client. A kill closes it; a restart brings it back on the same port
// with its data (as Redis with persistence would).
type KVNode struct {
	name   string
	clock  *engine.Clock
	events *engine.EventLog
	mr     *miniredis.Miniredis
	addr   string

	mu       sync.Mutex
	state    engine.State
	wg       sync.WaitGroup
	life     context.Context
	endLife  context.CancelFunc
	latency  atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64
	win      *engine.Window

	role     engine.Role
	volatile bool            // memory only: a restart comes back empty
	onWipe   []func()        // run when a memory-only node loses its data
	lines    func() []string // extra inspector lines
	detail   func() string
}

// NewKVNode starts a Redis server on a loopback port.
func NewKVNode(sys *engine.System, name string) (*KVNode, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	life, end := context.WithCancel(context.Background())
	return &KVNode{name: name, clock: sys.Clock, events: sys.Events, mr: mr, addr: mr.Addr(), state: engine.StateUp, life: life, endLife: end, win: engine.NewWindow(sys.Clock, 5), role: RoleKV}, nil
}

// NewCacheNode starts a Redis server used as a cache: its role is cache and
// it keeps its data in memory only, so a restart brings it back empty.
func NewCacheNode(sys *engine.System, name string) (*KVNode, error) {
	n, err := NewKVNode(sys, name)
	if err != nil {
		return nil, err
	}
	n.role, n.volatile = RoleCache, true
	return n, nil
}

// OnWipe adds a function run when a memory-only node loses its data: at
// each kill (the process and its memory are gone).
func (n *KVNode) OnWipe(fn func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onWipe = append(n.onWipe, fn)
}

// Describe sets the node's one-line detail and its inspector lines.
func (n *KVNode) Describe(detail func() string, lines func() []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.detail, n.lines = detail, lines
}

func (n *KVNode) Name() string      { return n.name }
func (n *KVNode) Role() engine.Role { return n.role }
func (n *KVNode) Addr() string      { return n.addr }

// Redis exposes the server, e.g. to advance TTLs from the lab clock.
func (n *KVNode) Redis() *miniredis.Miniredis { return n.mr }

func (n *KVNode) State() engine.State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// Kill closes the server and every client connection.
func (n *KVNode) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != engine.StateUp {
		return fmt.Errorf("%s is %s: %w", n.name, n.state, engine.ErrDown)
	}
	n.state = engine.StateDown
	n.mr.Close()
	if n.volatile {
		for _, fn := range n.onWipe {
			fn()
		}
	}
	n.events.Add(engine.EvKill, n.name, "crashed: connections closed")
	return nil
}

// Restart brings the server back on the same port after a boot time.
func (n *KVNode) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != engine.StateDown {
		return fmt.Errorf("%s is %s: %w", n.name, n.state, engine.ErrNotDown)
	}
	n.state = engine.StateRestarting
	n.events.Add(engine.EvRestart, n.name, "booting (1s)")
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if n.clock.Sleep(n.life, time.Second) != nil {
			return
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.state != engine.StateRestarting {
			return
		}
		if err := n.mr.Restart(); err != nil {
			n.state = engine.StateDown
			n.events.Add(engine.EvInfo, n.name, "restart failed: %v", err)
			return
		}
		if n.volatile {
			n.mr.FlushAll() // memory only: the data died with the process
		}
		n.state = engine.StateUp
		if n.volatile {
			n.events.Add(engine.EvUp, n.name, "up on %s, empty: a cache lives in memory", n.addr)
			return
		}
		n.events.Add(engine.EvUp, n.name, "up on %s", n.addr)
	}()
	return nil
}

// SetLatency adds latency to every command (spent by the client side).
func (n *KVNode) SetLatency(d time.Duration) { n.latency.Store(int64(d)) }

// Delay spends the node's injected latency before a command, on the lab
// clock.
func (n *KVNode) Delay(ctx context.Context) error {
	if d := time.Duration(n.latency.Load()); d > 0 {
		return n.clock.Sleep(ctx, d)
	}
	return nil
}

// Record counts one command a client sent and how long it took.
func (n *KVNode) Record(d time.Duration, err error) {
	n.requests.Add(1)
	if err != nil {
		n.errors.Add(1)
	}
	n.win.Record(d, err != nil)
}

// Snap returns the node's state and counters.
func (n *KVNode) Snap() engine.NodeSnap {
	rps, q := n.win.Stats()
	n.mu.Lock()
	detail, lines := n.detail, n.lines
	n.mu.Unlock()
	s := engine.NodeSnap{Name: n.name, Role: n.role, State: n.State(), Addr: n.addr, Requests: n.requests.Load(), Errors: n.errors.Load(),
		RPS: rps, P50: q.P50, P99: q.P99, Latency: time.Duration(n.latency.Load())}
	if detail != nil {
		s.Detail = detail()
	} else {
		s.Detail = fmt.Sprintf("redis · %d keys", len(n.mr.Keys()))
	}
	if lines != nil {
		s.Lines = lines()
	}
	if s.State != engine.StateUp {
		s.Addr = ""
	}
	return s
}

// Close stops the server for good.
func (n *KVNode) Close() error {
	n.endLife()
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state = engine.StateDown
	n.mr.Close()
	return nil
}

// KVStore keeps the lab's data denormalised in Redis: a user is one key,
// and each user's feed is a list of posts with the author's name already in
// them, so a feed read is one LRANGE and no join. The price is paid at
// write time: a post is pushed into the feed of every follower.
type KVStore struct {
	node  *KVNode
	link  *engine.Link
	rdb   *redis.Client
	meter *engine.Meter
	shape sqldb.DataShape
}

// NewKVStore connects to a KV node. meter may be nil.
func NewKVStore(sys *engine.System, node *KVNode, link *engine.Link, meter *engine.Meter, shape sqldb.DataShape) *KVStore {
	rdb := redis.NewClient(&redis.Options{
		Addr: node.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 64,
	})
	sys.OnClose(rdb.Close)
	return &KVStore{node: node, link: link, rdb: rdb, meter: meter, shape: shape}
}

// LoadFrom copies a SQL database into the store, denormalised: users,
// follower sets, and every user's feed pre-joined. It reads each table once
// and builds the feeds in memory, so a lab starts in well under a second.
func (k *KVStore) LoadFrom(ctx context.Context, d *sqldb.SQLData) error {
	db := d.DB()
	type user struct{ name, bio string }
	users := map[int]user{}
	rows, err := db.QueryContext(ctx, "SELECT id, name, bio FROM users")
	if err != nil {
		return err
	}
	names := map[int]string{}
	for rows.Next() {
		var id int
		var name, bio string
		if err := rows.Scan(&id, &name, &bio); err != nil {
			rows.Close()
			return err
		}
		names[id] = name
		users[id] = user{name, bio}
	}
	rows.Close()
	followees := map[int][]int{}
	followers := map[int][]any{}
	rows, err = db.QueryContext(ctx, "SELECT follower, followee FROM follows")
	if err != nil {
		return err
	}
	for rows.Next() {
		var a, b int
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return err
		}
		followees[a] = append(followees[a], b)
		followers[b] = append(followers[b], a)
	}
	rows.Close()
	// each author's posts, newest first
	posts := map[int][]sqldb.FeedItem{}
	rows, err = db.QueryContext(ctx, "SELECT id, user_id, body FROM posts ORDER BY id DESC")
	if err != nil {
		return err
	}
	for rows.Next() {
		var it sqldb.FeedItem
		var uid int
		if err := rows.Scan(&it.ID, &uid, &it.Body); err != nil {
			rows.Close()
			return err
		}
		it.Author = names[uid]
		posts[uid] = append(posts[uid], it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	pipe := k.rdb.Pipeline()
	for u := 0; u < k.shape.Users; u++ {
		id := strconv.Itoa(u)
		// a user is a hash, so a post can bump its counters in place
		var last int64
		if p := posts[u]; len(p) > 0 {
			last = p[0].ID
		}
		pipe.HSet(ctx, "user:"+id, "name", users[u].name, "bio", users[u].bio, "posts", len(posts[u]), "last_post", last)
		if fs := followers[u]; len(fs) > 0 {
			pipe.SAdd(ctx, "followers:"+id, fs...)
		}
		if feed := newestOf(followees[u], posts, k.shape.FeedLen); len(feed) > 0 {
			pipe.RPush(ctx, "feed:"+id, feed...)
		}
		if pipe.Len() > 3000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	pipe.Set(ctx, "post:seq", 1_000_000, 0)
	_, err = pipe.Exec(ctx)
	return err
}

// newestOf merges the authors' posts (each newest first) and returns the n
// newest as JSON, the same rows the SQL feed join returns.
func newestOf(authors []int, posts map[int][]sqldb.FeedItem, n int) []any {
	var all []sqldb.FeedItem
	for _, a := range authors {
		all = append(all, posts[a]...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	if len(all) > n {
		all = all[:n]
	}
	out := make([]any, len(all))
	for i, it := range all {
		out[i], _ = json.Marshal(it)
	}
	return out
}

// Do runs one data op against Redis.
func (k *KVStore) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	start := k.node.clock.Now()
	out, err := k.do(ctx, op, key, body)
	d := k.node.clock.Now() - start
	k.node.Record(d, err)
	if k.meter != nil {
		k.meter.Record(op, d, err)
	}
	return out, err
}

func (k *KVStore) do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if k.link != nil {
		if err := k.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	if err := k.node.Delay(ctx); err != nil {
		return nil, err
	}
	id := strconv.Itoa(key)
	switch op {
	case engine.OpRead:
		h, err := k.rdb.HGetAll(ctx, "user:"+id).Result()
		if err != nil {
			return nil, err
		}
		if len(h) == 0 {
			return nil, redis.Nil
		}
		posts, _ := strconv.ParseInt(h["posts"], 10, 64)
		last, _ := strconv.ParseInt(h["last_post"], 10, 64)
		return json.Marshal(map[string]any{"id": key, "name": h["name"], "bio": h["bio"], "posts": posts, "last_post": last})
	case engine.OpFeed:
		items, err := k.rdb.LRange(ctx, "feed:"+id, 0, int64(k.shape.FeedLen-1)).Result()
		if err != nil {
			return nil, err
		}
		return []byte("[" + joinRaw(items) + "]"), nil
	case engine.OpWrite:
		seq, err := k.rdb.Incr(ctx, "post:seq").Result()
		if err != nil {
			return nil, err
		}
		followers, err := k.rdb.SMembers(ctx, "followers:"+id).Result()
		if err != nil {
			return nil, err
		}
		item, _ := json.Marshal(sqldb.FeedItem{ID: seq, Author: "user" + id, Body: body})
		pipe := k.rdb.Pipeline()
		pipe.HIncrBy(ctx, "user:"+id, "posts", 1)
		pipe.HSet(ctx, "user:"+id, "last_post", seq)
		for _, f := range followers { // fan-out on write: no joins at read time
			pipe.LPush(ctx, "feed:"+f, item)
			pipe.LTrim(ctx, "feed:"+f, 0, int64(k.shape.FeedLen-1))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf(`{"id":%d,"fanout":%d}`, seq, len(followers))), nil
	}
	return nil, engine.ErrBadOp
}

func joinRaw(items []string) string {
	n := 0
	for _, s := range items {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return string(b)
}
