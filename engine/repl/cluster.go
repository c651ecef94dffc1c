package repl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"sort"
	"strings"
	"sync"
	"time"
)

// ClusterConfig describes a replicated database group and its failover
// monitor. Field comments name the trade-off each knob makes.
type ClusterConfig struct {
	// Replicas is how many replicas follow the primary (default 2). More
	// replicas serve more reads and survive more failures.
	Replicas int
	Size     string
	Work     engine.WorkModel
	Shape    sqldb.DataShape
	Seed     int64
	// Mode is async (fast writes; a failover can lose acknowledged writes)
	// or semi-sync (a write waits for a replica; none are lost unless it
	// fell back to async).
	Mode string
	// SemiSyncTimeout is how long a semi-sync write waits for a replica
	// before the primary falls back to async (default 1s).
	SemiSyncTimeout time.Duration
	// LinkDelay is the modelled one-way delay of replication links; it is
	// where replication lag comes from.
	LinkDelay time.Duration
	// ApplyCost is the modelled time a replica spends applying one entry.
	ApplyCost time.Duration
	// Interval and Misses set the failover monitor: a primary that misses
	// Misses heartbeats Interval apart is declared down (default 1s × 3).
	// Shorter detects faster and risks promoting on a blip.
	Interval time.Duration
	Misses   int
	// MinReplicas, when > 0, makes the primary refuse writes unless that
	// many replicas have streamed from it within MinReplicasWindow (as
	// Redis' min-replicas-to-write): a cut-off primary stops taking writes
	// that could never be replicated. The window must be shorter than the
	// monitor's fastest detection (Interval × (Misses-1)), or the old
	// primary still takes writes after the promotion.
	MinReplicas       int
	MinReplicasWindow time.Duration
	// ReseedAfter is how many positions behind a restarting replica may be
	// and still catch up by streaming; further behind, it is seeded from a
	// fresh copy of the primary first (default 3000).
	ReseedAfter int64
}

// DefaultClusterConfig is a primary and two replicas, async, with a
// monitor checking every second and failing over after three misses.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Replicas: 2, Size: "xlarge", Work: engine.WorkModel{Read: time.Millisecond, Write: 2 * time.Millisecond}, Shape: sqldb.DefaultShape(),
		Seed: 1, Mode: ModeAsync, SemiSyncTimeout: time.Second, Interval: time.Second, Misses: 3, MinReplicasWindow: time.Second,
		ReseedAfter: 3000}
}

// Validate checks a cluster configuration.
func (c ClusterConfig) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("replicas %d is not between 1 and 5", c.Replicas)
	case c.Mode != ModeAsync && c.Mode != ModeSemiSync:
		return fmt.Errorf("mode %q is not async or semi-sync", c.Mode)
	case c.Interval <= 0 || c.Misses < 1:
		return fmt.Errorf("the monitor needs an interval and at least one miss")
	case c.MinReplicas < 0 || c.MinReplicas > c.Replicas:
		return fmt.Errorf("min-replicas %d is not between 0 and %d", c.MinReplicas, c.Replicas)
	case c.ReseedAfter < 1:
		return fmt.Errorf("reseed-after %d must be at least 1", c.ReseedAfter)
	}
	return nil
}

// AckedWrite is a write the web tier acknowledged to a client.
type AckedWrite struct {
	WID  string
	User int
	Pos  int64
	Node string // the primary that acknowledged it
	At   time.Duration
}

// Promotion is one failover.
type Promotion struct {
	At         time.Duration
	From, To   string
	Divergence int64 // the new primary's position when promoted
	Lost       []string
}

// SetAside is a write found on a former primary that never reached the
// new one: kept aside, never merged silently.
type SetAside struct {
	Entry    LogEntry
	From     string
	Acked    bool
	Replayed bool
}

// Cluster is a primary, its replicas and a failover monitor.
type Cluster struct {
	sys     *engine.System
	cfg     ClusterConfig
	nodes   []*ReplDB
	Monitor *engine.Server

	mu          sync.Mutex
	primary     *ReplDB
	mode        string
	linkDelay   time.Duration
	applyCost   time.Duration
	minReplicas int
	links       map[string]*engine.Link
	misses      int
	acked       map[string]AckedWrite
	promotions  []Promotion
	divergence  map[string]int64
	setAside    []SetAside
	lost        []string
	maxLag      time.Duration
	refusing    map[string]bool // primaries refusing writes under min-replicas
	routers     []*Router
	ryw         string
	recover     string
	last        map[int]userWrite // each user's newest acknowledged write
	caughtUp    map[string]int64  // position each replica must reach to count as streaming steadily (0 once it has)
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
	c := &Cluster{sys: sys, cfg: cfg, mode: cfg.Mode, ryw: RYWOff, recover: "hold", linkDelay: cfg.LinkDelay, applyCost: cfg.ApplyCost, minReplicas: cfg.MinReplicas,
		links: map[string]*engine.Link{}, acked: map[string]AckedWrite{}, divergence: map[string]int64{}, last: map[int]userWrite{}, caughtUp: map[string]int64{}, refusing: map[string]bool{}}
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
	sys.Handle(engine.ActAdd, func(a engine.Action) error {
		if a.Target != string(sqldb.RoleDB) && a.Target != "replica" {
			return fmt.Errorf("add %s: only a database replica (add db) can be added here", a.Target)
		}
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

func (c *Cluster) knobs() {
	c.mu.Lock()
	mode, delay, apply, ryw, recover, minReplicas := c.mode, durName(c.linkDelay), durName(c.applyCost), c.ryw, c.recover, fmt.Sprint(c.minReplicas)
	c.mu.Unlock()
	c.sys.AddKnob(engine.NewKnob("repl.mode", []string{ModeAsync, ModeSemiSync}, mode, func(v string) error {
		c.mu.Lock()
		c.mode = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.delay", []string{"0ms", "50ms", "200ms", "1s"}, delay, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.linkDelay = d
		for id, l := range c.links {
			if c.isReplLink(id) {
				l.SetLatency(d)
			}
		}
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.apply", []string{"0ms", "5ms", "15ms"}, apply, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.applyCost = d
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.ryw", []string{RYWOff, RYWPrimary, RYWWait}, ryw, func(v string) error {
		c.mu.Lock()
		routers := append([]*Router(nil), c.routers...)
		c.mu.Unlock()
		for _, r := range routers {
			if err := r.SetRYW(v); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.ryw = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.recover", []string{"hold", "replay"}, recover, func(v string) error {
		if v == "replay" {
			if _, err := c.Replay(c.sys.Context()); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.recover = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.min-replicas", []string{"0", "1"}, minReplicas, func(v string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.minReplicas = int(v[0] - '0')
		return nil
	}))
}

func durName(d time.Duration) string {
	if d == 0 {
		return "0ms"
	}
	return d.String()
}

// Mode is the replication mode in force.
func (c *Cluster) Mode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
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

// canWrite applies min-replicas-to-write.
func (c *Cluster) canWrite(d *ReplDB) error {
	c.mu.Lock()
	need := c.minReplicas
	c.mu.Unlock()
	if need == 0 {
		return nil
	}
	if have := d.freshReplicas(c.cfg.MinReplicasWindow); have < need {
		c.mu.Lock()
		if !c.refusing[d.Name()] {
			c.refusing[d.Name()] = true
			c.sys.Events.Add(EvRefuse, d.Name(), "refusing writes: %d replica(s) connected, min-replicas-to-write is %d", have, need)
		}
		c.mu.Unlock()
		return fmt.Errorf("not enough replicas: %d connected, min-replicas-to-write is %d", have, need)
	}
	c.mu.Lock()
	c.refusing[d.Name()] = false
	c.mu.Unlock()
	return nil
}

// RecordAck keeps a write the web tier acknowledged.
func (c *Cluster) RecordAck(w AckedWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acked[w.WID] = w
}

// heartbeat asks a node for /health through the monitor's link.
func (c *Cluster) heartbeat(ctx context.Context, d *ReplDB) bool {
	if c.link(c.Monitor.Name(), d.Name()).Delay(ctx) != nil {
		return false
	}
	hctx, cancel := c.sys.Clock.WithTimeout(ctx, c.cfg.Interval/2)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, d.URL()+"/health", nil)
	if err != nil {
		return false
	}
	req.Header.Set(engine.HeaderVia, c.sys.Token)
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tick is one round of the monitor.
func (c *Cluster) tick(ctx context.Context) {
	if c.Monitor.State() != engine.StateUp {
		return // a dead monitor fails nobody over
	}
	p := c.Primary()
	if c.heartbeat(ctx, p) {
		c.mu.Lock()
		c.misses = 0
		c.mu.Unlock()
	} else {
		c.mu.Lock()
		c.misses++
		n := c.misses
		c.mu.Unlock()
		c.sys.Events.Add(EvMiss, p.Name(), "missed heartbeat %d/%d", n, c.cfg.Misses)
		if n >= c.cfg.Misses {
			c.failover(ctx, p)
		}
	}
	c.announce()
	// a former primary that is reachable again rejoins as a replica
	for _, d := range c.Nodes() {
		if d != c.Primary() && d.IsPrimary() && d.State() == engine.StateUp && c.heartbeat(ctx, d) {
			c.rejoinAsReplica(ctx, d)
		}
	}
}

// failover promotes the most up-to-date reachable replica.
func (c *Cluster) failover(ctx context.Context, old *ReplDB) {
	var best *ReplDB
	var bestPos int64 = -1
	for _, d := range c.Nodes() {
		if d == old || d.State() != engine.StateUp || !c.heartbeat(ctx, d) {
			continue
		}
		if pos, _ := d.Positions(); pos > bestPos {
			best, bestPos = d, pos
		}
	}
	if best == nil {
		c.sys.Events.Add(engine.EvInfo, "monitor-1", "%s is down and no replica can be promoted", old.Name())
		return
	}
	div, err := best.promote(ctx)
	if err != nil {
		c.sys.Events.Add(engine.EvInfo, "monitor-1", "promoting %s failed: %v", best.Name(), err)
		return
	}
	now := c.sys.Clock.Now()
	lost := c.lostOn(ctx, best, old.Name(), div)
	c.mu.Lock()
	c.primary, c.misses = best, 0
	c.divergence[old.Name()] = div
	c.promotions = append(c.promotions, Promotion{At: now, From: old.Name(), To: best.Name(), Divergence: div, Lost: lost})
	c.lost = append(c.lost, lost...)
	c.mu.Unlock()
	c.sys.Events.Add(EvPromote, best.Name(), "promoted to primary at pos %d (%s missed %d heartbeats)", div, old.Name(), c.cfg.Misses)
	if len(lost) > 0 {
		c.sys.Events.Add(EvLost, best.Name(), "%d acknowledged writes from %s are missing here", len(lost), old.Name())
	}
	// replicas now stream from the new primary
	for _, d := range c.Nodes() {
		c.sys.RemoveLink(d.Name() + ">" + old.Name())
		c.mu.Lock()
		delete(c.links, d.Name()+">"+old.Name())
		c.mu.Unlock()
		if d != best && d != old {
			c.link(d.Name(), best.Name())
		}
	}
}

// lostOn lists writes acknowledged by old after pos that are truly absent
// on the new primary.
func (c *Cluster) lostOn(ctx context.Context, now *ReplDB, old string, div int64) []string {
	c.mu.Lock()
	var cand []string
	for wid, a := range c.acked {
		if a.Node == old && a.Pos > div {
			cand = append(cand, wid)
		}
	}
	c.mu.Unlock()
	if len(cand) == 0 {
		return nil
	}
	present := map[string]bool{}
	for i := 0; i < len(cand); i += 500 {
		chunk := cand[i:min(i+500, len(cand))]
		args := make([]any, len(chunk))
		for j, w := range chunk {
			args[j] = w
		}
		rows, err := now.Data.DB().QueryContext(ctx, "SELECT write_id FROM posts WHERE write_id IN (?"+strings.Repeat(",?", len(chunk)-1)+")", args...)
		if err != nil {
			continue
		}
		for rows.Next() {
			var w string
			if rows.Scan(&w) == nil {
				present[w] = true
			}
		}
		rows.Close()
	}
	var lost []string
	for _, w := range cand {
		if !present[w] {
			lost = append(lost, w)
		}
	}
	sort.Strings(lost)
	return lost
}

// rejoined runs when a database comes back after a kill.
func (c *Cluster) rejoined(d *ReplDB) {
	if d == c.Primary() {
		c.sys.Events.Add(EvRejoinDB, d.Name(), "back as the primary")
		return
	}
	if d.IsPrimary() {
		c.rejoinAsReplica(c.sys.Context(), d)
		return
	}
	c.link(d.Name(), c.Primary().Name())
	d.startLoops()
	c.sys.Events.Add(EvRejoinDB, d.Name(), "back as a replica; catching up")
}

// rejoinAsReplica demotes a former primary: its writes after the divergence
// point are set aside, then it streams from the current primary.
func (c *Cluster) rejoinAsReplica(ctx context.Context, d *ReplDB) {
	c.mu.Lock()
	div, ok := c.divergence[d.Name()]
	c.mu.Unlock()
	if !ok {
		return
	}
	errant, err := d.demote(ctx, div)
	if err != nil {
		c.sys.Events.Add(engine.EvInfo, d.Name(), "rejoin failed: %v", err)
		return
	}
	c.mu.Lock()
	for _, e := range errant {
		_, acked := c.acked[e.WriteID]
		c.setAside = append(c.setAside, SetAside{Entry: e, From: d.Name(), Acked: acked})
	}
	c.mu.Unlock()
	c.link(d.Name(), c.Primary().Name())
	d.startLoops()
	c.sys.Events.Add(EvSetAside, d.Name(), "rejoined as a replica; %d writes after pos %d set aside", len(errant), div)
	c.mu.Lock()
	replay := c.recover == "replay"
	c.mu.Unlock()
	if replay && len(errant) > 0 {
		if _, err := c.Replay(ctx); err != nil {
			c.sys.Events.Add(engine.EvInfo, d.Name(), "%v", err)
		}
	}
}

// ClusterState is the cluster's figures for gauges, the inspector and the
// lesson.
type ClusterState struct {
	Primary    string
	Mode       string
	SemiSyncOn bool
	Nodes      []DBState
	Promotions []Promotion
	Lost       []string
	SetAside   []SetAside
	Acked      int
	MaxLag     time.Duration
}

// DBState is one database's replication state.
type DBState struct {
	Name    string
	Role    string // primary, replica, former primary
	State   engine.State
	LogPos  int64
	Applied int64
	LagPos  int64
	Lag     time.Duration
	Rows    int64
}

// dbState is one database's replication state now.
func (c *Cluster) dbState(d *ReplDB) DBState {
	p := c.Primary()
	logPos, applied := d.Positions()
	ds := DBState{Name: d.Name(), State: d.State(), LogPos: logPos, Applied: applied, Rows: d.rows()}
	switch {
	case d == p:
		ds.Role = "primary"
	case d.IsPrimary():
		ds.Role = "former primary"
	default:
		ds.Role = "replica"
		top, _ := p.Positions()
		if applied < top {
			ds.LagPos = top - applied
			if t, ok := p.CommitTime(applied + 1); ok {
				if now := c.sys.Clock.Now(); now > t {
					ds.Lag = now - t
				}
			}
		}
	}
	return ds
}

// writesAt lists the lost writes a node (as the promoted primary) is
// missing, and the writes set aside from it (as a former primary).
func (c *Cluster) writesAt(name string) (lost, aside []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.promotions {
		if p.To == name {
			lost = append(lost, p.Lost...)
		}
	}
	for _, s := range c.setAside {
		if s.From == name {
			aside = append(aside, s.Entry.WriteID)
		}
	}
	return lost, aside
}

// State returns the cluster's figures now and updates the largest lag seen.
func (c *Cluster) State() ClusterState {
	p := c.Primary()
	st := ClusterState{Primary: p.Name(), Mode: c.Mode(), SemiSyncOn: p.SemiSyncOn()}
	primaryUp := p.State() == engine.StateUp
	for _, d := range c.Nodes() {
		ds := c.dbState(d)
		st.Nodes = append(st.Nodes, ds)
		if ds.Role != "replica" || ds.State != engine.StateUp {
			continue
		}
		c.mu.Lock()
		if target := c.caughtUp[d.Name()]; target > 0 && ds.Applied >= target {
			c.caughtUp[d.Name()] = 0
		}
		steady := c.caughtUp[d.Name()] == 0
		c.mu.Unlock()
		// a replica catching up after a restart or a rejoin is behind by
		// design; the lag that counts is that of steady streaming
		if primaryUp && steady && ds.Lag > st.MaxLag {
			st.MaxLag = ds.Lag
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.MaxLag > c.maxLag {
		c.maxLag = st.MaxLag
	}
	st.MaxLag = c.maxLag
	st.Promotions = append([]Promotion(nil), c.promotions...)
	st.Lost = append([]string(nil), c.lost...)
	st.SetAside = append([]SetAside(nil), c.setAside...)
	st.Acked = len(c.acked)
	return st
}

// rows counts posts for the inspector; it is cheap with the index.
func (d *ReplDB) rows() int64 {
	var n int64
	_ = d.Data.DB().QueryRow("SELECT count(*) FROM posts").Scan(&n)
	return n
}

// Replay writes every set-aside entry to the current primary, as a
// recovery step the learner chooses; it returns how many went in.
func (c *Cluster) Replay(ctx context.Context) (int, error) {
	p := c.Primary()
	c.mu.Lock()
	todo := []int{}
	for i, s := range c.setAside {
		if !s.Replayed {
			todo = append(todo, i)
		}
	}
	c.mu.Unlock()
	n := 0
	for _, i := range todo {
		c.mu.Lock()
		e := c.setAside[i].Entry
		c.mu.Unlock()
		if _, err := p.commit(ctx, e.WriteID, e.User, e.Body); err != nil {
			return n, fmt.Errorf("replaying %s on %s: %w", e.WriteID, p.Name(), err)
		}
		c.mu.Lock()
		c.setAside[i].Replayed = true
		c.mu.Unlock()
		n++
	}
	c.sys.Events.Add(engine.EvInfo, p.Name(), "replayed %d set-aside writes", n)
	return n, nil
}

// CaughtUp reports whether a replica has reached the position the primary
// had when the replica last started streaming.
func (c *Cluster) CaughtUp(name string) bool {
	c.State() // refresh
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caughtUp[name] == 0
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
	c.sys.Events.Add(EvSeed, name, "new replica seeded from a copy of %s at pos %d in %s; streaming from there", p.Name(), pos, (c.sys.Clock.Now() - start).Round(time.Millisecond))
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

// SplitBrainWrites counts, for a promotion, the writes the old primary
// acknowledged after it: writes taken by a second primary.
func (c *Cluster) SplitBrainWrites(p Promotion) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.acked {
		if a.Node == p.From && a.At > p.At {
			n++
		}
	}
	return n
}
