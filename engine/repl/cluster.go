package repl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// Cluster is a primary, its replicas and a failover monitor.
type Cluster struct {
	sys     *engine.System
	cfg     ClusterConfig
	nodes   []*ReplDB
	Monitor *engine.Server

	mu              sync.Mutex
	primary         *ReplDB
	mode            string
	waitPoint       string
	linkDelay       time.Duration
	applyCost       time.Duration
	minReplicas     int
	links           map[string]*engine.Link
	misses          int
	acked           map[string]AckedWrite
	ackedReplicated int // acknowledged writes a replica had received first
	promotions      []Promotion
	divergence      map[string]int64
	setAside        []SetAside
	lost            []string
	maxLag          time.Duration
	refusing        map[string]bool // primaries refusing writes under min-replicas
	routers         []*Router
	ryw             string
	recover         string
	last            map[int]userWrite        // each user's newest acknowledged write
	seen            map[string]map[int]int64 // per node, per user: the highest position a read returned
	phantom         []string                 // writes a read returned, missing after a failover
	caughtUp        map[string]int64         // position each replica must reach to count as streaming steadily (0 once it has)
}

// lastWrite is a user's newest acknowledged write. The web servers share
// it, as they would share a session store.
func (c *Cluster) lastWrite(user int) (userWrite, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.last[user]
	return w, ok
}

func (c *Cluster) setLastWrite(user int, w userWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.last[user]; !ok || w.epoch > old.epoch || w.pos > old.pos {
		c.last[user] = w
	}
}

func (c *Cluster) addRouter(r *Router) {
	c.mu.Lock()
	c.routers = append(c.routers, r)
	ryw := c.ryw
	c.mu.Unlock()
	_ = r.SetRYW(ryw)
	c.link(c.Monitor.Name(), r.from)
}

// announce tells every web server the monitor can reach where the primary
// is; one cut off from the monitor keeps what it knew.
func (c *Cluster) announce() {
	p := c.Primary()
	c.mu.Lock()
	routers := append([]*Router(nil), c.routers...)
	c.mu.Unlock()
	for _, r := range routers {
		if !c.link(c.Monitor.Name(), r.from).Cut() {
			r.setPrimary(p)
		}
	}
}

// NewCluster makes db-1 (the primary), db-2… (replicas) and monitor-1, adds
// them to sys and starts replication and the monitor.
func NewCluster(sys *engine.System, cfg ClusterConfig) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	sys.Events.Declare(engine.ToneGood, EvRejoinDB)
	c := &Cluster{sys: sys, cfg: cfg, mode: cfg.Mode, waitPoint: cfg.WaitPoint, ryw: cfg.ReadYourWrites, recover: "hold", linkDelay: cfg.LinkDelay, applyCost: cfg.ApplyCost, minReplicas: cfg.MinReplicas,
		links: map[string]*engine.Link{}, acked: map[string]AckedWrite{}, divergence: map[string]int64{}, last: map[int]userWrite{}, seen: map[string]map[int]int64{}, caughtUp: map[string]int64{}, refusing: map[string]bool{}}
	for i := 0; i <= cfg.Replicas; i++ {
		d, err := newReplDB(sys, c, ReplConfig{Name: fmt.Sprintf("db-%d", i+1), Size: cfg.Size, Work: cfg.Work, Shape: cfg.Shape, Seed: cfg.Seed}, i == 0)
		if err != nil {
			return nil, err
		}
		if err := sys.AddNode(d); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, d)
	}
	c.primary = c.nodes[0]
	c.Monitor = engine.NewServer(engine.ServerConfig{Name: "monitor-1", Role: RoleMon, Boot: time.Second}, sys.Clock, sys.Events,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	if err := sys.AddNode(c.Monitor); err != nil {
		return nil, err
	}
	for _, d := range c.Nodes() {
		c.link(c.Monitor.Name(), d.Name())
		if d != c.primary {
			c.link(d.Name(), c.primary.Name())
			d.startLoops()
		}
	}
	sys.OnClose(func() error {
		for _, d := range c.Nodes() {
			d.stopLoops()
		}
		return nil
	})
	sys.Go(func(ctx context.Context) { sys.Clock.Every(ctx, cfg.Interval, func(time.Duration) { c.tick(ctx) }) })
	c.knobs()
	sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
		if a.Target != string(sqldb.RoleDB) && a.Target != "replica" {
			return fmt.Errorf("add %s: only a database replica (add db) can be added here: %w", a.Target, engine.ErrNotSupported)
		}
		return nil
	}, func(engine.Action) error {
		_, err := c.AddReplica(sys.Context())
		return err
	})
	sys.Alias("primary", func() []engine.Node { return []engine.Node{c.Primary()} })
	sys.Alias("replica", func() []engine.Node {
		var out []engine.Node
		for _, d := range c.Replicas() {
			out = append(out, d)
		}
		return out
	})
	return c, nil
}

// Mode is the replication mode in force.
func (c *Cluster) Mode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// WaitPoint is where a semi-sync write waits for a replica: after-sync or
// after-commit.
func (c *Cluster) WaitPoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitPoint
}

// SemiSyncTimeout is how long a semi-sync write waits for a replica.
func (c *Cluster) SemiSyncTimeout() time.Duration { return c.cfg.SemiSyncTimeout }

// ApplyCost is the modelled cost of applying one entry.
func (c *Cluster) ApplyCost() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applyCost
}

// Primary is the node the cluster sends writes to.
func (c *Cluster) Primary() *ReplDB {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.primary
}

// Nodes returns the databases in name order.
func (c *Cluster) Nodes() []*ReplDB {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*ReplDB(nil), c.nodes...)
}

// Replicas returns the databases that are not the primary.
func (c *Cluster) Replicas() []*ReplDB {
	p := c.Primary()
	var out []*ReplDB
	for _, d := range c.Nodes() {
		if d != p {
			out = append(out, d)
		}
	}
	return out
}

// link returns the link from one node to another, making it if needed.
func (c *Cluster) link(from, to string) *engine.Link {
	id := from + ">" + to
	c.mu.Lock()
	l, ok := c.links[id]
	c.mu.Unlock()
	if ok {
		return l
	}
	l = c.sys.AddLink(from, to)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.links[id]; ok {
		c.sys.RemoveLink(id)
		return old
	}
	if c.isReplLink(id) {
		l.SetLatency(c.linkDelay)
	}
	c.links[id] = l
	return l
}

// isReplLink reports whether a link joins two databases: the replication
// links, where the modelled delay applies.
// It runs under c.mu, so it goes by name: databases are db-N.
func (c *Cluster) isReplLink(id string) bool {
	from, to, _ := strings.Cut(id, ">")
	return strings.HasPrefix(from, "db-") && strings.HasPrefix(to, "db-")
}

// AddReplica makes a new replica from a copy of the primary (SQLite's
// backup API, taken while the primary serves) and starts it streaming from
// the position the copy holds.
func (c *Cluster) AddReplica(ctx context.Context) (*ReplDB, error) {
	p := c.Primary()
	if p.State() != engine.StateUp {
		return nil, fmt.Errorf("%s is %s: a copy needs a live primary", p.Name(), p.State())
	}
	name := c.sys.NextName("db")
	start := c.sys.Clock.Now()
	d, err := newReplicaFromCopy(ctx, c.sys, c, ReplConfig{Name: name, Size: c.cfg.Size, Work: c.cfg.Work, Shape: c.cfg.Shape, Seed: c.cfg.Seed}, p)
	if err != nil {
		return nil, err
	}
	if err := c.sys.AddNode(d); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, d)
	routers := append([]*Router(nil), c.routers...)
	c.mu.Unlock()
	c.link(c.Monitor.Name(), name)
	c.link(name, p.Name())
	for _, r := range routers {
		c.link(r.from, name)
	}
	pos, _ := d.Positions()
	c.sys.Events.Add(EvSeed, name, engine.Textf("repl.seeded_new", "new replica seeded from a copy of %s at pos %d in %s; streaming from there", p.Name(), pos, (c.sys.Clock.Now()-start).Round(time.Millisecond)))
	d.startLoops()
	return d, nil
}

// RouterStats sums the web servers' read and write counts.
func (c *Cluster) RouterStats() RouterStats {
	c.mu.Lock()
	routers := append([]*Router(nil), c.routers...)
	c.mu.Unlock()
	var sum RouterStats
	for _, r := range routers {
		s := r.Stats()
		sum.Reads += s.Reads
		sum.Stale += s.Stale
		sum.PrimaryReads += s.PrimaryReads
		sum.WriteFailures += s.WriteFailures
		if s.WritesDown > sum.WritesDown {
			sum.WritesDown = s.WritesDown
		}
	}
	return sum
}
