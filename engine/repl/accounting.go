// Write accounting and state reports: acknowledged, lost and set-aside
// writes, replay, and the cluster's figures.

package repl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"scalelab/engine"
)

// AckedWrite is a write the web tier acknowledged to a client.
type AckedWrite struct {
	WID  string
	User int
	Pos  int64
	Node string // the primary that acknowledged it
	At   time.Duration
	// Replicated is true when a replica had received it before the
	// acknowledgement (semi-sync in force).
	Replicated bool
}

// Promotion is one failover.
type Promotion struct {
	At         time.Duration
	From, To   string
	Divergence int64 // the new primary's position when promoted
	Lost       []string
	// LostReplicated are lost writes a replica had received before they
	// were acknowledged: semi-sync promises there are none.
	LostReplicated []string
	// Phantom are phantom reads: writes a read on the old primary
	// returned, missing on the new one, whether or not their writer was
	// told they were saved. Semi-sync after-commit makes them (a write is
	// readable before a replica has it); after-sync does not, until it
	// falls back to async. PhantomAcked counts those acknowledged to
	// their writer (and so among Lost too).
	Phantom      []string
	PhantomAcked int
}

// SetAside is a write found on a former primary that never reached the
// new one: kept aside, never merged silently.
type SetAside struct {
	Entry    LogEntry
	From     string
	Acked    bool
	Replayed bool
}

// RecordAck keeps a write the web tier acknowledged.
func (c *Cluster) RecordAck(w AckedWrite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acked[w.WID] = w
	if w.Replicated {
		c.ackedReplicated++
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
	return absentOn(ctx, now, cand)
}

// noteRead records what a read that reached its client returned: the
// user's posts on node up to position applied. Positions name the same
// writes on every node of a lineage; a rewound node's are clipped when it
// rejoins (forgetReads).
func (c *Cluster) noteRead(node string, user int, applied int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.seen[node]
	if m == nil {
		m = map[int]int64{}
		c.seen[node] = m
	}
	if applied > m[user] {
		m[user] = applied
	}
}

// forgetReads clips what reads on node returned to the positions it keeps
// after a rewind to div: later positions there name other writes.
func (c *Cluster) forgetReads(node string, div int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, p := range c.seen[node] {
		if p > div {
			c.seen[node][u] = div
		}
	}
}

// phantomsOn lists the phantom reads of a failover: writes in the old
// primary's log after div that a read on it returned (a read of their
// user at or past their position) and that are absent on the new primary.
// The old primary's log is read from its files, as a post-mortem would.
func (c *Cluster) phantomsOn(ctx context.Context, now, old *ReplDB, div int64) (ids []string, acked int) {
	entries, err := old.readLog(ctx, div+1, 1<<30)
	if err != nil {
		return nil, 0
	}
	c.mu.Lock()
	seen := c.seen[old.Name()]
	var cand []string
	for _, e := range entries {
		if seen[e.User] >= e.Pos {
			cand = append(cand, e.WriteID)
		}
	}
	c.mu.Unlock()
	ids = absentOn(ctx, now, cand)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ids {
		if _, ok := c.acked[w]; ok {
			acked++
		}
	}
	return ids, acked
}

// absentOn returns, sorted, the write ids that d's posts table lacks.
func absentOn(ctx context.Context, d *ReplDB, cand []string) []string {
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
		rows, err := d.Data.DB().QueryContext(ctx, "SELECT write_id FROM posts WHERE write_id IN (?"+strings.Repeat(",?", len(chunk)-1)+")", args...)
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
	var out []string
	for _, w := range cand {
		if !present[w] {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
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
	// Phantom are the phantom reads of every failover (Promotion.Phantom).
	Phantom  []string
	SetAside []SetAside
	Acked    int
	// AckedReplicated counts acknowledged writes a replica had received
	// first: every one while semi-sync is in force, none in async.
	AckedReplicated int
	MaxLag          time.Duration
}

// DBState is one database's replication state.
type DBState struct {
	Name    string
	Role    string // primary, replica, former primary, old primary, still writing
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
		c.mu.Lock()
		refusing := c.refusing[d.Name()]
		c.mu.Unlock()
		if d.State() == engine.StateUp && !refusing {
			// cut off, not dead, and not fenced (yet): a second primary
			ds.Role = "old primary, still writing"
		}
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

// writesAt lists the lost writes and phantom reads a node (as the
// promoted primary) is missing, and the writes set aside from it (as a
// former primary).
func (c *Cluster) writesAt(name string) (lost, phantom, aside []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.promotions {
		if p.To == name {
			lost = append(lost, p.Lost...)
			phantom = append(phantom, p.Phantom...)
		}
	}
	for _, s := range c.setAside {
		if s.From == name {
			aside = append(aside, s.Entry.WriteID)
		}
	}
	return lost, phantom, aside
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
	st.Phantom = append([]string(nil), c.phantom...)
	st.SetAside = append([]SetAside(nil), c.setAside...)
	st.Acked, st.AckedReplicated = len(c.acked), c.ackedReplicated
	return st
}

// rows counts posts for the inspector; it is cheap with the index.
func (d *ReplDB) rows() int64 {
	var n int64
	_ = d.Data.DB().QueryRow("SELECT count(*) FROM posts").Scan(&n)
	return n
}

// Replay writes every set-aside entry to the current primary, as a
// recovery step the learner chooses; it returns how many went in. Replayed
// writes are writes: under semi-sync after-sync nobody reads them until a
// replica has them.
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
	hold := c.Mode() == ModeSemiSync && c.WaitPoint() == WaitAfterSync && p.SemiSyncOn()
	n, last := 0, int64(0)
	for _, i := range todo {
		c.mu.Lock()
		e := c.setAside[i].Entry
		c.mu.Unlock()
		pos, err := p.commit(ctx, e.WriteID, e.User, e.Body, hold)
		if err != nil {
			return n, fmt.Errorf("replaying %s on %s: %w", e.WriteID, p.Name(), err)
		}
		c.mu.Lock()
		c.setAside[i].Replayed = true
		c.mu.Unlock()
		n, last = n+1, pos
	}
	if hold && last > 0 {
		// the engine commit once a replica has them, without holding the
		// caller (a knob or the monitor) for the round trip
		c.sys.Go(func(ctx context.Context) {
			if ok, _ := p.waitReplica(ctx, last); ok {
				_ = p.commitTo(ctx, last) // on failure the next write commits them
			}
		})
	}
	c.sys.Events.Add(engine.EvInfo, p.Name(), engine.Textf("repl.replayed", "replayed %d set-aside writes", n))
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
