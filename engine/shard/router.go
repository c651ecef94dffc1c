package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// The feed's read paths.
const (
	FeedScatter = "scatter" // ask every shard for the followees it holds, merge
	FeedDenorm  = "denorm"  // read the reader's own timeline, written at post time
)

// Cache is a cache in front of the shards for some users' posts
// (cache-aside): the router reads it first and fills it on a miss.
type Cache interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, val string, ttl time.Duration) error
}

// RouterConfig describes the router and the shards it starts with.
type RouterConfig struct {
	Name   string
	Shape  Shape
	Seed   int64
	Layout Layout
	Shards []Config
	// MoveRate caps the rows the mover copies per lab second (0: as fast
	// as it can), so that the shards keep serving during a move, as
	// online resharding tools throttle.
	MoveRate float64
	// MoveCost is the modelled work a row copied costs its new owner (a
	// quarter of it, the old owner, for reading it): the mover holds a
	// worker of each for it, as a copy competes with the shards' own
	// queries on a real database. 0 models none.
	MoveCost time.Duration
}

// Router is the web tier's query router (as Vitess's vtgate): a node that
// takes the app's requests, finds the shard owning each key in its shard
// map and forwards the query there over loopback HTTP.
type Router struct {
	*engine.Server
	sys    *engine.System
	cfg    RouterConfig
	client *http.Client

	// mu guards the map and the epoch; a write takes them at its start
	mu     sync.RWMutex
	ep     *epoch   // the writes begun under the current map and move
	shards []*Shard // every shard, in the current map's order
	cur    *Map
	mv     *move // the move copying rows, whose writes go to both owners; nil when none
	// running is the move under way, from Reshard until its old copies are
	// deleted and its rows checked: the next may start only then
	running *move

	book   *engine.Book // each call to a shard, under its name
	postID atomic.Int64
	userID atomic.Int64
	feed   atomic.Value // string

	cache    atomic.Pointer[cacheSlot]
	hits     atomic.Int64
	misses   atomic.Int64
	fanRows  atomic.Int64
	fanPosts atomic.Int64

	ledger    ledger
	calls     calls
	movesMu   sync.Mutex
	moves     []*Move
	failovers []Failover
}

type cacheSlot struct {
	c     Cache
	users func(int) bool
	ttl   time.Duration
}

// NewRouter seeds the shards with the data each owns under the layout,
// adds them and the router to the system, and starts them.
func NewRouter(sys *engine.System, cfg RouterConfig) (*Router, error) {
	if cfg.Name == "" {
		cfg.Name = "router"
	}
	r := &Router{sys: sys, cfg: cfg, client: newClient(sys), book: engine.NewBook(sys.Clock), ep: &epoch{}}
	sys.Events.Declare(engine.ToneInfo, EvReshard)
	sys.Events.Declare(engine.ToneWarn, EvFailover)
	r.feed.Store(FeedScatter)
	r.postID.Store(int64(cfg.Shape.SeedPosts()))
	r.userID.Store(int64(cfg.Shape.Users))
	var names []string
	for _, sc := range cfg.Shards {
		s, err := NewShard(sys, sc)
		if err != nil {
			return nil, err
		}
		r.shards = append(r.shards, s)
		names = append(names, sc.Name)
	}
	m, err := NewMap(cfg.Layout, names)
	if err != nil {
		return nil, err
	}
	r.cur = m
	if err := r.seed(sys.Context()); err != nil {
		return nil, err
	}
	for _, s := range r.shards {
		if err := sys.AddNode(s); err != nil {
			return nil, err
		}
	}
	r.Server = engine.NewServer(engine.ServerConfig{Name: cfg.Name, Role: RoleRouter, Layer: engine.LayerWeb}, sys.Clock, sys.Events, http.HandlerFunc(r.handle))
	for _, s := range r.shards {
		sys.AddLink(cfg.Name, s.Name())
	}
	sys.Go(r.monitor)
	return r, sys.AddNode(r)
}

// seed writes the seed data, each row on the shard that owns it.
func (r *Router) seed(ctx context.Context) error {
	by := map[int][]row{}
	rows := seedRows(r.cfg.Shape, r.cfg.Seed)
	r.ledger.init(r.cfg.Shape, rows)
	for _, rw := range rows {
		o := r.cur.Owner(rw.key())
		by[o] = append(by[o], rw)
	}
	for i, s := range r.shards {
		n, err := insertRows(ctx, s.data, by[i])
		if err != nil {
			return fmt.Errorf("seed %s: %w", s.Name(), err)
		}
		s.rows.Store(n)
	}
	return nil
}

// Shards returns the shards in the map's order.
func (r *Router) Shards() []*Shard {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.shards)
}

// Map returns the current shard map.
func (r *Router) Map() *Map {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// Owner returns the shard owning a user's rows under the current map.
func (r *Router) Owner(user int) *Shard {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.shards[r.cur.Owner(user)]
}

// Book is the router's record of its calls to each shard, by name.
func (r *Router) Book() *engine.Book { return r.book }

// SetFeed picks the feed's read path.
func (r *Router) SetFeed(mode string) error {
	if mode != FeedScatter && mode != FeedDenorm {
		return fmt.Errorf("feed %q: want %s or %s", mode, FeedScatter, FeedDenorm)
	}
	r.feed.Store(mode)
	return nil
}

// Feed is the feed's read path.
func (r *Router) Feed() string { return r.feed.Load().(string) }

// SetCache puts a cache in front of the posts of the users for which
// users is true (nil c removes it).
func (r *Router) SetCache(c Cache, users func(int) bool, ttl time.Duration) {
	if c == nil {
		r.cache.Store(nil)
		return
	}
	r.cache.Store(&cacheSlot{c: c, users: users, ttl: ttl})
}

// CacheStats is the cache's hits and misses so far.
func (r *Router) CacheStats() (hits, misses int64) { return r.hits.Load(), r.misses.Load() }

// FanOut is the posts fanned out and the timeline rows they wrote.
func (r *Router) FanOut() (posts, rows int64) { return r.fanPosts.Load(), r.fanRows.Load() }

// errBadRequest marks a request the router cannot parse.
var errBadRequest = errors.New("bad request")

func (r *Router) handle(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/health" {
		io.WriteString(w, "ok")
		return
	}
	ctx := req.Context()
	user, err := strconv.Atoi(req.URL.Query().Get("user"))
	if err != nil && req.URL.Path != "/signup" {
		http.Error(w, "bad user", http.StatusBadRequest)
		return
	}
	var out any
	switch req.URL.Path {
	case "/post":
		out, err = r.Post(ctx, user)
	case "/signup":
		out, err = r.Signup(ctx)
	case "/posts":
		out, err = r.Posts(ctx, user)
	case "/feed":
		out, err = r.FeedOf(ctx, user)
	default:
		http.Error(w, "unknown path "+req.URL.Path, http.StatusNotFound)
		return
	}
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, errBadRequest) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	json.NewEncoder(w).Encode(out)
}

// Post writes a new post by user on the shard that owns the user (and,
// during a move, on its new owner too) and, with denormalised feeds, fans
// it out to the followers' timelines.
func (r *Router) Post(ctx context.Context, user int) (int64, error) {
	id := r.postID.Add(1)
	at := int64(r.sys.Clock.Now() / time.Millisecond)
	q := fmt.Sprintf("/post?user=%d&id=%d&at=%d", user, id, at)
	if err := r.write(ctx, []int{user}, func([]int) string { return q }); err != nil {
		return 0, err
	}
	r.ledger.post(user, id)
	if r.Feed() == FeedDenorm {
		if err := r.fanOut(ctx, user, id, at); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// Signup creates a new user, the next id, on the shard that owns it.
func (r *Router) Signup(ctx context.Context) (int64, error) {
	u := r.userID.Add(1)
	q := fmt.Sprintf("/signup?user=%d", u)
	if err := r.write(ctx, []int{int(u)}, func([]int) string { return q }); err != nil {
		return 0, err
	}
	r.ledger.signup(int(u))
	return u, nil
}

// fanOut writes a post into every follower's timeline, one request per
// shard holding followers.
func (r *Router) fanOut(ctx context.Context, author int, id, at int64) error {
	var followers []int64
	if err := r.get(ctx, r.Owner(author), fmt.Sprintf("/followers?user=%d", author), &followers); err != nil {
		return err
	}
	if len(followers) == 0 {
		return nil
	}
	keys := make([]int, len(followers))
	for i, f := range followers {
		keys[i] = int(f)
	}
	err := r.write(ctx, keys, func(owners []int) string {
		return fmt.Sprintf("/fanout?post=%d&author=%d&at=%d&owners=%s", id, author, at, joinInts(owners))
	})
	if err == nil {
		r.fanPosts.Add(1)
		r.fanRows.Add(int64(len(keys)))
	}
	return err
}

// write sends a write for the given keys to each shard owning some of
// them, in parallel; during a move, keys whose owner changes are written
// on both owners (dual writes). It counts in the epoch it began in: a move
// waits for the writes of an epoch before it relies on them.
func (r *Router) write(ctx context.Context, keys []int, path func(keys []int) string) error {
	r.mu.RLock()
	e, cur, shards, mv := r.ep, r.cur, r.shards, r.mv
	e.wg.Add(1)
	r.mu.RUnlock()
	defer e.wg.Done()
	targets := map[*Shard][]int{}
	for _, k := range keys {
		old := shards[cur.Owner(k)]
		targets[old] = append(targets[old], k)
		if mv != nil {
			if nw := mv.owner(k); nw != old {
				targets[nw] = append(targets[nw], k)
				mv.dual(old, k)
			}
		}
	}
	errs := make(chan error, len(targets))
	for s, ks := range targets {
		go func() { errs <- r.send(ctx, s, http.MethodPost, path(ks), nil) }()
	}
	var first error
	for range targets {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil && mv != nil {
		mv.kept.Add(1)
	}
	return first
}

// Posts reads a user's latest posts from their shard, or from the cache
// in front when the user's posts are cached.
func (r *Router) Posts(ctx context.Context, user int) ([]Post, error) {
	slot := r.cache.Load()
	key := "posts:" + strconv.Itoa(user)
	if slot != nil && slot.users(user) {
		if v, hit, err := slot.c.Get(ctx, key); err == nil && hit {
			r.hits.Add(1)
			var out []Post
			return out, json.Unmarshal([]byte(v), &out)
		}
		r.misses.Add(1)
	}
	var out []Post
	if err := r.get(ctx, r.Owner(user), fmt.Sprintf("/posts?user=%d", user), &out); err != nil {
		return nil, err
	}
	if slot != nil && slot.users(user) {
		b, _ := json.Marshal(out)
		slot.c.Set(ctx, key, string(b), slot.ttl) // a failed fill costs the next read a miss
	}
	return out, nil
}

// FeedOf reads a user's feed: the latest posts of the accounts they
// follow, by scatter-gather or from their own timeline.
func (r *Router) FeedOf(ctx context.Context, user int) ([]Post, error) {
	own := r.Owner(user)
	if r.Feed() == FeedDenorm {
		var out []Post
		return out, r.get(ctx, own, fmt.Sprintf("/timeline?user=%d", user), &out)
	}
	var followees []int64
	if err := r.get(ctx, own, fmt.Sprintf("/follows?user=%d", user), &followees); err != nil {
		return nil, err
	}
	by := map[*Shard][]int{}
	r.mu.RLock()
	for _, f := range followees {
		s := r.shards[r.cur.Owner(int(f))]
		by[s] = append(by[s], int(f))
	}
	r.mu.RUnlock()
	type part struct {
		posts []Post
		err   error
	}
	parts := make(chan part, len(by))
	for s, ids := range by {
		go func() {
			var p part
			p.err = r.get(ctx, s, "/recent?users="+joinInts(ids), &p.posts)
			parts <- p
		}()
	}
	var all []Post
	var first error
	for range by {
		p := <-parts
		if p.err != nil && first == nil {
			first = p.err
		}
		all = append(all, p.posts...)
	}
	if first != nil {
		return nil, first
	}
	slices.SortFunc(all, func(a, b Post) int { return int(b.ID - a.ID) })
	return all[:min(len(all), feedLen)], nil
}

// epoch counts the writes begun between two changes of the map or the
// move: a change starts a new epoch, then waits for the old one's writes.
type epoch struct{ wg sync.WaitGroup }

// nextEpoch starts a new epoch and returns the old one; r.mu is held.
func (r *Router) nextEpoch() *epoch {
	old := r.ep
	r.ep = &epoch{}
	return old
}
