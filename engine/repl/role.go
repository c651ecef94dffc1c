// Role changes of a database: promotion, demotion, re-seeding and rejoining
// after a restart.

package repl

import (
	"context"
	"time"

	"scalelab/engine"
)

// promote makes this replica the primary: it stops streaming, applies
// everything it has received, and starts taking writes.
func (d *ReplDB) promote(ctx context.Context) (int64, error) {
	d.stopLoops()
	for {
		d.mu.Lock()
		next, have := d.applied+1, d.logPos
		d.mu.Unlock()
		if next > have {
			break
		}
		if err := d.applyOne(ctx, next); err != nil {
			return 0, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.primary, d.semiOn = true, true
	d.acks, d.ackAt = map[string]int64{}, map[string]time.Duration{}
	return d.logPos, nil
}

// demote turns a former primary into a replica of the current one: entries
// after the divergence point never reached the new primary, so they are
// taken out of this node (set aside, never merged silently) before it
// streams the new primary's log. It returns what was set aside.
func (d *ReplDB) demote(ctx context.Context, divergence int64) ([]LogEntry, error) {
	d.stopLoops()
	errant, err := d.readLog(ctx, divergence+1, 1<<30)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.Data.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// writes it logged up to the divergence but never committed (it died
	// waiting for a replica, after-sync) are on the new primary: commit them
	if d.applied < divergence {
		if err := commitLogged(ctx, tx, d.applied, min(divergence, d.logPos)); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM posts WHERE write_id IN (SELECT write_id FROM replog WHERE pos > ?)", divergence); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM replog WHERE pos > ?", divergence); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET v = ? WHERE k = 'applied'", divergence); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	d.primary = false
	d.logPos, d.applied = divergence, divergence
	if int64(len(d.at)) > divergence+1 {
		d.at = d.at[:divergence+1]
	}
	return errant, nil
}

// loadPositions reads the node's positions and commit times from its own
// files.
func (d *ReplDB) loadPositions() {
	var applied int64
	db := d.Data.DB()
	_ = db.QueryRow("SELECT v FROM meta WHERE k = 'applied'").Scan(&applied)
	at := []time.Duration{0}
	if rows, err := db.Query("SELECT pos, at_ms FROM replog ORDER BY pos"); err == nil {
		for rows.Next() {
			var pos, ms int64
			if rows.Scan(&pos, &ms) == nil && pos == int64(len(at)) {
				at = append(at, time.Duration(ms)*time.Millisecond)
			}
		}
		rows.Close()
	}
	d.mu.Lock()
	d.applied, d.logPos, d.at = applied, int64(len(at)-1), at
	d.mu.Unlock()
}

// reseedIfBehind runs while a restarted replica boots: when it is further
// behind the primary than the cluster's ReseedAfter, streaming the whole
// gap would take long, so its files are replaced by a fresh copy of the
// primary and it streams from there.
func (d *ReplDB) reseedIfBehind() {
	p := d.cl.Primary()
	if p == d || d.IsPrimary() || p.State() != engine.StateUp {
		return
	}
	top, _ := p.Positions()
	own, _ := d.Positions()
	if top-own <= d.cl.cfg.ReseedAfter {
		return
	}
	start := d.Clock().Now()
	if err := d.Data.ReplaceFrom(d.cl.sys.Context(), p.Data); err != nil {
		d.Events().Add(engine.EvInfo, d.Name(), engine.Textf("repl.reseed_failed", "re-seeding from %s failed: %v; streaming instead", p.Name(), err))
		return
	}
	d.loadPositions()
	now, _ := d.Positions()
	d.Events().Add(EvSeed, d.Name(), engine.Textf("repl.reseeded", "was %d positions behind: seeded from a copy of %s at pos %d in %s", top-own, p.Name(), now, (d.Clock().Now()-start).Round(time.Millisecond)))
}

// rejoin runs when the node comes back after a kill: it reloads its
// positions from its own files, commits what a former primary had logged
// but not committed, and lets the cluster decide its role.
func (d *ReplDB) rejoin() {
	d.loadPositions()
	if err := d.recoverLogged(d.cl.sys.Context()); err != nil {
		d.Events().Add(engine.EvInfo, d.Name(), engine.Textf("repl.recover_failed", "committing the logged writes failed: %v", err))
	}
	d.cl.rejoined(d)
}
