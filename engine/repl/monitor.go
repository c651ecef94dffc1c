// The failover monitor: heartbeats, failover and promotion, and former
// primaries rejoining as replicas.

package repl

import (
	"context"
	"io"
	"net/http"

	"scalelab/engine"
)

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
		if n <= c.cfg.Misses { // past the limit the count says nothing new
			c.sys.Events.Add(EvMiss, p.Name(), engine.Textf("repl.missed_heartbeat", "missed heartbeat %d/%d", n, c.cfg.Misses))
		}
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
		c.sys.Events.Add(engine.EvInfo, "monitor-1", engine.Textf("repl.no_candidate", "%s is down and no replica can be promoted", old.Name()))
		return
	}
	div, err := best.promote(ctx)
	if err != nil {
		c.sys.Events.Add(engine.EvInfo, "monitor-1", engine.Textf("repl.promote_failed", "promoting %s failed: %v", best.Name(), err))
		return
	}
	now := c.sys.Clock.Now()
	lost := c.lostOn(ctx, best, old.Name(), div)
	phantom, phantomAcked := c.phantomsOn(ctx, best, old, div)
	c.mu.Lock()
	c.primary, c.misses = best, 0
	c.divergence[old.Name()] = div
	var lostRepl []string
	for _, wid := range lost {
		if c.acked[wid].Replicated {
			lostRepl = append(lostRepl, wid)
		}
	}
	c.promotions = append(c.promotions, Promotion{At: now, From: old.Name(), To: best.Name(), Divergence: div, Lost: lost, LostReplicated: lostRepl,
		Phantom: phantom, PhantomAcked: phantomAcked})
	c.lost = append(c.lost, lost...)
	c.phantom = append(c.phantom, phantom...)
	c.mu.Unlock()
	c.sys.Events.Add(EvPromote, best.Name(), engine.Textf("repl.promoted", "promoted to primary at pos %d (%s missed %d heartbeats)", div, old.Name(), c.cfg.Misses))
	if len(lost) > 0 {
		c.sys.Events.Add(EvLost, best.Name(), engine.Textf("repl.lost", "missing here: %s from %s", engine.Plural(len(lost), "acknowledged write"), old.Name()))
	}
	if len(phantom) > 0 {
		c.sys.Events.Add(EvLost, best.Name(), engine.Textf("repl.phantom", "missing here: %s that readers saw on %s (phantom reads)", engine.Plural(len(phantom), "write"), old.Name()))
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

// rejoined runs when a database comes back after a kill.
func (c *Cluster) rejoined(d *ReplDB) {
	if d == c.Primary() {
		c.sys.Events.Add(EvRejoinDB, d.Name(), engine.Textf("repl.back_primary", "back as the primary"))
		return
	}
	if d.IsPrimary() {
		c.rejoinAsReplica(c.sys.Context(), d)
		return
	}
	c.link(d.Name(), c.Primary().Name())
	d.startLoops()
	c.sys.Events.Add(EvRejoinDB, d.Name(), engine.Textf("repl.back_replica", "back as a replica; catching up"))
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
		c.sys.Events.Add(engine.EvInfo, d.Name(), engine.Textf("repl.rejoin_failed", "rejoin failed: %v", err))
		return
	}
	c.forgetReads(d.Name(), div)
	c.mu.Lock()
	for _, e := range errant {
		_, acked := c.acked[e.WriteID]
		c.setAside = append(c.setAside, SetAside{Entry: e, From: d.Name(), Acked: acked})
	}
	c.mu.Unlock()
	c.link(d.Name(), c.Primary().Name())
	d.startLoops()
	c.sys.Events.Add(EvSetAside, d.Name(), engine.Textf("repl.set_aside", "rejoined as a replica; %s after pos %d set aside", engine.Plural(len(errant), "write"), div))
	c.mu.Lock()
	replay := c.recover == "replay"
	c.mu.Unlock()
	if replay && len(errant) > 0 {
		if _, err := c.Replay(ctx); err != nil {
			c.sys.Events.Add(engine.EvInfo, d.Name(), engine.Textf("repl.error", "%v", err))
		}
	}
}
