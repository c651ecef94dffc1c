// The replication stream: the primary's log, pulling it into a replica's log
// and applying it in order.

package repl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"scalelab/engine"
	"strconv"
	"time"
)

// LogEntry is one committed write in a replication log.
type LogEntry struct {
	Pos     int64  `json:"pos"`
	WriteID string `json:"wid"`
	User    int    `json:"user"`
	Body    string `json:"body"`
	AtMs    int64  `json:"at_ms"` // lab time the write committed on its primary
}

const logBatch = 500

func (d *ReplDB) serveLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	replica := r.URL.Query().Get("replica")
	if err != nil || from < 1 || replica == "" {
		http.Error(w, "bad log request", http.StatusBadRequest)
		return
	}
	if !d.IsPrimary() {
		http.Error(w, d.Name()+" is not the primary", http.StatusConflict)
		return
	}
	d.ackFrom(replica, from-1)
	// long poll: wait a little for something new
	wctx, cancel := d.Clock().WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	for {
		d.mu.Lock()
		have, ch := d.logPos, d.grew
		d.mu.Unlock()
		if have >= from {
			break
		}
		select {
		case <-wctx.Done():
			w.Write([]byte("[]"))
			return
		case <-ch:
		}
	}
	entries, err := d.readLog(ctx, from, logBatch)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(entries)
}

func (d *ReplDB) readLog(ctx context.Context, from int64, limit int) ([]LogEntry, error) {
	rows, err := d.Data.QueryContext(ctx, "SELECT pos, write_id, user_id, body, at_ms FROM replog WHERE pos >= ? ORDER BY pos LIMIT ?", from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []LogEntry{}
	for rows.Next() {
		var e LogEntry
		if err := rows.Scan(&e.Pos, &e.WriteID, &e.User, &e.Body, &e.AtMs); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// startLoops starts streaming and applying, as a replica.
func (d *ReplDB) startLoops() {
	d.mu.Lock()
	if d.stopLoop != nil || d.primary {
		d.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(d.cl.sys.Context())
	d.stopLoop = cancel
	d.mu.Unlock()
	// until it reaches where the primary is now, the replica is catching up
	top, _ := d.cl.Primary().Positions()
	d.cl.mu.Lock()
	d.cl.caughtUp[d.Name()] = top
	d.cl.mu.Unlock()
	d.loops.Add(2)
	go func() { defer d.loops.Done(); d.pull(ctx) }()
	go func() { defer d.loops.Done(); d.apply(ctx) }()
}

// stopLoops stops streaming and applying and waits for both.
func (d *ReplDB) stopLoops() {
	d.mu.Lock()
	stop := d.stopLoop
	d.stopLoop = nil
	d.mu.Unlock()
	if stop != nil {
		stop()
		d.loops.Wait()
	}
}

// pull streams the primary's log into this node's log.
func (d *ReplDB) pull(ctx context.Context) {
	for ctx.Err() == nil {
		up := d.cl.Primary()
		if up == nil || up == d {
			if d.Clock().Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
			continue
		}
		entries, err := d.fetch(ctx, up)
		if err != nil {
			if d.Clock().Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
			continue
		}
		if len(entries) == 0 {
			continue
		}
		if err := d.store(ctx, entries); err != nil && ctx.Err() == nil {
			d.Events().Add(engine.EvInfo, d.Name(), engine.Textf("repl.store_failed", "storing the log failed: %v", err))
			if d.Clock().Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}
}

func (d *ReplDB) fetch(ctx context.Context, up *ReplDB) ([]LogEntry, error) {
	if err := d.cl.link(d.Name(), up.Name()).Delay(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	from := d.logPos + 1
	d.mu.Unlock()
	rctx, cancel := d.Clock().WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, fmt.Sprintf("%s/log?from=%d&replica=%s", up.URL(), from, d.Name()), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(engine.HeaderVia, d.cl.sys.Token)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("%s: %s", up.Name(), resp.Status)
	}
	var entries []LogEntry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		return nil, err
	}
	// the way back from the primary crosses the link too
	if len(entries) > 0 {
		if err := d.cl.link(d.Name(), up.Name()).Delay(ctx); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// store appends received entries to this node's log (its relay log).
func (d *ReplDB) store(ctx context.Context, entries []LogEntry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.primary {
		return nil
	}
	tx, err := d.Data.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	next := d.logPos + 1
	var stored []LogEntry
	for _, e := range entries {
		if e.Pos != next {
			continue // a gap or a repeat: take only the next in order
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO replog(pos, write_id, user_id, body, at_ms) VALUES(?, ?, ?, ?, ?)", e.Pos, e.WriteID, e.User, e.Body, e.AtMs); err != nil {
			return err
		}
		stored = append(stored, e)
		next++
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, e := range stored {
		d.at = append(d.at, time.Duration(e.AtMs)*time.Millisecond)
	}
	if len(stored) > 0 {
		d.logPos = stored[len(stored)-1].Pos
		close(d.grew)
		d.grew = make(chan struct{})
	}
	return nil
}

// apply applies received entries in order, paying the modelled apply cost.
func (d *ReplDB) apply(ctx context.Context) {
	for ctx.Err() == nil {
		d.mu.Lock()
		next, have, ch := d.applied+1, d.logPos, d.grew
		d.mu.Unlock()
		if next > have {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			continue
		}
		if d.Clock().Sleep(ctx, d.cl.ApplyCost()) != nil {
			return
		}
		if err := d.applyOne(ctx, next); err != nil && ctx.Err() == nil {
			d.Events().Add(engine.EvInfo, d.Name(), engine.Textf("repl.apply_failed", "applying pos %d failed: %v", next, err))
			if d.Clock().Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}
}

func (d *ReplDB) applyOne(ctx context.Context, pos int64) error {
	tx, err := d.Data.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var e LogEntry
	if err := tx.QueryRowContext(ctx, "SELECT pos, write_id, user_id, body, at_ms FROM replog WHERE pos = ?", pos).Scan(&e.Pos, &e.WriteID, &e.User, &e.Body, &e.AtMs); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO posts(user_id, body, created, write_id) VALUES(?, ?, ?, ?)", e.User, e.Body, e.AtMs, e.WriteID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET v = ? WHERE k = 'applied'", pos); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.mu.Lock()
	if pos > d.applied {
		d.applied = pos
	}
	close(d.advanced)
	d.advanced = make(chan struct{})
	d.mu.Unlock()
	return nil
}
