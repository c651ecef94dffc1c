// Replica acknowledgements: semi-sync waits, the fallback to async, the
// replicas a primary has heard from lately and min-replicas-to-write.

package repl

import (
	"context"
	"fmt"
	"time"

	"scalelab/engine"
)

// waitReplica holds a semi-sync acknowledgement until a replica has
// received pos, or falls back to async after the cluster's timeout. ok is
// false when the request ended first (the node was killed): then nothing
// may be acknowledged. replicated tells whether a replica has the write:
// false once semi-sync has fallen back.
func (d *ReplDB) waitReplica(ctx context.Context, pos int64) (ok, replicated bool) {
	d.mu.Lock()
	on := d.semiOn
	d.mu.Unlock()
	if !on {
		return true, false
	}
	tctx, cancel := d.Clock().WithTimeout(ctx, d.cl.SemiSyncTimeout())
	defer cancel()
	for {
		d.mu.Lock()
		best := int64(0)
		for _, p := range d.acks {
			if p > best {
				best = p
			}
		}
		ch, on := d.ackCh, d.semiOn
		d.mu.Unlock()
		if best >= pos || !on {
			return ctx.Err() == nil, best >= pos
		}
		select {
		case <-ch:
		case <-tctx.Done():
			if ctx.Err() != nil {
				return false, false
			}
			d.mu.Lock()
			if d.semiOn {
				d.semiOn = false
				d.Events().Add(EvSemiSync, d.Name(), engine.Textf("repl.semisync_off", "no replica acknowledged within %s (MySQL's default: 10 s): falling back to async", d.cl.SemiSyncTimeout()))
			}
			d.mu.Unlock()
			return true, false
		}
	}
}

// SemiSyncOn reports whether semi-sync is in force (not fallen back).
func (d *ReplDB) SemiSyncOn() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.semiOn
}

// ackFrom records what a replica has received (it asks for from = pos+1).
func (d *ReplDB) ackFrom(replica string, received int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if received > d.acks[replica] || d.acks[replica] == 0 {
		d.acks[replica] = received
	}
	d.ackAt[replica] = d.Clock().Now()
	close(d.ackCh)
	d.ackCh = make(chan struct{})
	if !d.semiOn && received >= d.logPos && d.primary {
		d.semiOn = true
		d.Events().Add(EvSemiSync, d.Name(), engine.Textf("repl.semisync_on", "%s caught up: semi-sync on again", replica))
	}
}

// freshReplicas counts replicas that asked for the log within window.
func (d *ReplDB) freshReplicas(window time.Duration) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	now, n := d.Clock().Now(), 0
	for _, t := range d.ackAt {
		if now-t <= window {
			n++
		}
	}
	return n
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
			c.sys.Events.Add(EvRefuse, d.Name(), engine.Textf("repl.refusing", "refusing writes: %s connected, min-replicas-to-write is %d", engine.Plural(have, "replica"), need))
		}
		c.mu.Unlock()
		return fmt.Errorf("not enough replicas: %d connected, min-replicas-to-write is %d", have, need)
	}
	c.mu.Lock()
	c.refusing[d.Name()] = false
	c.mu.Unlock()
	return nil
}
