// The sharding chapter's topology: a router in the web tier in front of
// SQLite shards, the load that drives it, and what each request is booked
// under.

package sharding

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/chapters"
	"scalelab/engine"
	"scalelab/engine/cache"
	"scalelab/engine/kv"
	"scalelab/engine/shard"
)

// celebrity is the user whose posts draw a share of all reads.
const celebrity = 7

// shape is the chapter's data: 200 users with 3 posts each, each
// following 5 others (2,800 rows with the followers index).
var shape = shard.Shape{Users: 200, PostsPerUser: 3, Follows: 5}

// tune is what differs between steps.
type tune struct {
	shards   int
	size     string
	work     engine.WorkModel
	jitter   bool
	kind     string
	layout   shard.Layout
	rate     float64
	mix      engine.Mix
	signups  float64 // share of writes that are sign-ups
	newPosts float64 // share of posts written by the 100 newest users
	celeb    string  // the celebrity's share of reads at the start, %
	moveRate float64
	// moveCost is the modelled work of copying one row (reading it costs a
	// quarter): the mover holds the shards' workers for it
	moveCost time.Duration
	counts   []string // the shard.count knob's values, the first the start
	knobs    []string
	lead     []string // the gauges the step's text names, first
	show     []string // other gauges the step shows
}

// lab is one step's topology.
type lab struct {
	sys  *engine.System
	rt   *shard.Router
	tn   tune
	book *book
	home string // the shard holding the celebrity's rows without a pin

	celeb  atomic.Int64 // % of reads for the celebrity
	vnodes atomic.Int64 // the ring's virtual nodes per shard
	cache  *cache.Cache // the cache in front, once made

	rngMu sync.Mutex
	rng   *rand.Rand

	failMu sync.Mutex
	failed map[string]int64 // requests failed, by the shard owning their key

	w watchState
}

func step(tn tune) func(sys *engine.System, opt chapters.Options) (*lab, error) {
	return func(sys *engine.System, opt chapters.Options) (*lab, error) { return build(sys, opt, tn) }
}

// shardConfig is a new shard's configuration in this step.
func (l *lab) shardConfig(name string) shard.Config {
	return shard.Config{Name: name, Size: l.tn.size, Work: l.tn.work, Jitter: l.tn.jitter}
}

func build(sys *engine.System, opt chapters.Options, tn tune) (*lab, error) {
	l := &lab{sys: sys, tn: tn, book: newBook(), failed: map[string]int64{}, rng: rand.New(rand.NewPCG(uint64(opt.Seed), 10))}
	var cfgs []shard.Config
	for i := 1; i <= tn.shards; i++ {
		cfgs = append(cfgs, l.shardConfig(fmt.Sprintf("shard-%d", i)))
	}
	tn.layout.Users = shape.Users
	if tn.layout.VNodes == 0 {
		tn.layout.VNodes = 64
	}
	l.tn = tn
	l.vnodes.Store(int64(tn.layout.VNodes))
	rt, err := shard.NewRouter(sys, shard.RouterConfig{Name: "router", Shape: shape, Seed: opt.Seed, Layout: tn.layout, Shards: cfgs, MoveRate: tn.moveRate, MoveCost: tn.moveCost})
	if err != nil {
		return nil, err
	}
	l.rt = rt
	l.home = rt.Owner(celebrity).Name()
	if tn.celeb != "" {
		n, _ := strconv.Atoi(tn.celeb)
		l.celeb.Store(int64(n))
	}
	if err := l.knobs(); err != nil {
		return nil, err
	}
	sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
		if a.Target != string(shard.RoleShard) {
			return fmt.Errorf("add %q: this chapter adds shards (add shard): %w", a.Target, engine.ErrNotSupported)
		}
		if rt.Moving() {
			return fmt.Errorf("add shard: %w", shard.ErrMoving)
		}
		return nil
	}, func(engine.Action) error {
		s, err := rt.AddShard(l.shardConfig(sys.NextName("shard")))
		if err == nil {
			sys.Events.Add(engine.EvAdd, s.Name(), engine.Textf("shard.added", "a new shard: the map moves to %d shards", len(rt.Shards())+1))
		}
		return err
	})
	sys.AddGauges(l.gauges)
	sys.AddTable(l.table)

	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Seed, lc.Keys, lc.Users = tn.rate, opt.Seed, shape.Users, 500
	// patient clients: a saturated shard's queue (32 requests) takes over 2 s
	// to drain, and a client that gives up wastes the work done for it
	lc.Timeout = 5 * time.Second
	if opt.Rate > 0 {
		lc.Rate = opt.Rate
	}
	lc.Mix = tn.mix
	lc.Fetch, lc.Observe = l.fetch, l.observe
	ld, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// roll is a uniform draw in [0, 1).
func (l *lab) roll() float64 {
	l.rngMu.Lock()
	defer l.rngMu.Unlock()
	return l.rng.Float64()
}

// The labels requests are booked under.
const (
	tagPost      = "post"
	tagSignup    = "signup"
	tagFeed      = "feed"
	tagCelebrity = "celebrity" // a read of the celebrity's posts
	tagNeighbour = "neighbour" // a read of a user on the celebrity's home shard
	tagOther     = "other"     // any other read
	signupAt     = "signup:"   // a sign-up, by the shard it landed on
)

// fetch makes one request to the router: a post or a sign-up, a read of
// a user's posts, or a feed.
func (l *lab) fetch(ctx context.Context, c *http.Client, op engine.Op, key, _ int) (string, string) {
	u := key + 1
	method, path, tag := http.MethodGet, "", ""
	switch op {
	case engine.OpWrite:
		method = http.MethodPost
		if l.tn.signups > 0 && l.roll() < l.tn.signups {
			path, tag = "/signup", tagSignup
			break
		}
		if l.tn.newPosts > 0 && l.roll() < l.tn.newPosts {
			// new users post most: one of the 100 newest
			u = max(1, l.rt.Users()-int(l.roll()*100))
		}
		path, tag = "/post?user="+strconv.Itoa(u), tagPost
	case engine.OpFeed:
		path, tag = "/feed?user="+strconv.Itoa(u), tagFeed
	default:
		if float64(l.celeb.Load()) > 100*l.roll() {
			u = celebrity
		}
		path, tag = "/posts?user="+strconv.Itoa(u), l.readTag(u)
	}
	owner := ""
	if tag != tagSignup && tag != tagFeed {
		owner = l.rt.Owner(u).Name()
	}
	req, err := http.NewRequestWithContext(ctx, method, l.rt.URL()+path, nil)
	if err != nil {
		return engine.ReasonOther, tag
	}
	resp, err := c.Do(req)
	if err != nil {
		return engine.Classify(err, context.Cause(ctx)), tag + "|" + owner
	}
	if tag == tagSignup && resp.StatusCode == http.StatusOK {
		var id int
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
		if json.Unmarshal(b, &id) == nil {
			owner = l.rt.Owner(id).Name()
		}
	}
	return engine.Finish(ctx, resp), tag + "|" + owner
}

// readTag says whose read it is: the celebrity's, a neighbour's on the
// celebrity's home shard, or anyone else's.
func (l *lab) readTag(u int) string {
	switch {
	case l.tn.kind != kindCeleb:
		return tagOther
	case u == celebrity:
		return tagCelebrity
	case l.rt.Owner(u).Name() == l.home:
		return tagNeighbour
	}
	return tagOther
}

// observe books each finished request under its kind and its shard.
func (l *lab) observe(_ engine.Op, _, _ int, lat time.Duration, reason, tag string) {
	kind, owner := tag, ""
	for i := 0; i < len(tag); i++ {
		if tag[i] == '|' {
			kind, owner = tag[:i], tag[i+1:]
			break
		}
	}
	now := l.sys.Clock.Now()
	ok := reason == ""
	l.book.add(kind, now, lat, ok)
	if owner != "" && kind == tagSignup {
		l.book.add(signupAt+owner, now, lat, ok)
	}
	if owner != "" && !ok {
		l.failMu.Lock()
		l.failed[owner]++
		l.failMu.Unlock()
	}
}

// makeCache starts the cache in front: a Redis node (miniredis) with
// cache-aside reads, as in chapter 5.
func (l *lab) makeCache() (*cache.Cache, error) {
	if l.cache != nil {
		return l.cache, nil
	}
	node, err := kv.NewCacheNode(l.sys, "cache-1")
	if err != nil {
		return nil, err
	}
	if err := l.sys.AddNode(node); err != nil {
		return nil, err
	}
	c, err := cache.NewCache(l.sys, node, cache.CacheConfig{MaxMemory: 1 << 20})
	if err != nil {
		return nil, err
	}
	l.sys.AddLink("router", node.Name())
	l.cache = c
	return c, nil
}
