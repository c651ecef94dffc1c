package repl

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replication modes.
const (
	// ModeAsync acknowledges a write after the primary's own commit.
	ModeAsync = "async"
	// ModeSemiSync acknowledges a write only after at least one replica has
	// received it, falling back to async after a timeout (as MySQL does).
	ModeSemiSync = "semi-sync"
)

// LogEntry is one committed write in a replication log.
type LogEntry struct {
	Pos     int64  `json:"pos"`
	WriteID string `json:"wid"`
	User    int    `json:"user"`
	Body    string `json:"body"`
	AtMs    int64  `json:"at_ms"` // lab time the write committed on its primary
}

// ErrReadOnly is answered by a replica asked to write.
var ErrReadOnly = errors.New("read-only replica")

const replSchema = `
ALTER TABLE posts ADD COLUMN write_id TEXT;
CREATE UNIQUE INDEX posts_write ON posts(write_id);
CREATE TABLE replog(pos INTEGER PRIMARY KEY, write_id TEXT NOT NULL, user_id INTEGER NOT NULL, body TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT INTO meta(k, v) VALUES('applied', 0);
`

// ReplConfig describes one database of a replicated group.
type ReplConfig struct {
	Name  string
	Size  string
	Work  engine.WorkModel
	Shape sqldb.DataShape
	Seed  int64
}

// ReplDB is a SQLite database server that is either the primary of its
// group (takes writes, keeps the replication log) or a replica (streams the
// primary's log over loopback HTTP, stores it, and applies it in order).
type ReplDB struct {
	*engine.Server
	*engine.Sized
	Data *sqldb.SQLData
	cl   *Cluster
	cfg  ReplConfig

	mu       sync.Mutex
	primary  bool
	logPos   int64           // newest entry in this node's log (received, on a replica)
	applied  int64           // newest entry applied to the posts table
	at       []time.Duration // commit time of each position (index = pos)
	grew     chan struct{}   // closed and replaced when logPos grows
	advanced chan struct{}   // closed and replaced when applied grows
	acks     map[string]int64
	ackAt    map[string]time.Duration
	ackCh    chan struct{}
	semiOn   bool
	stopLoop context.CancelFunc
	loops    sync.WaitGroup
	client   *http.Client
}

func newReplDB(sys *engine.System, cl *Cluster, cfg ReplConfig, primary bool) (*ReplDB, error) {
	data, err := sqldb.OpenData(sys, cfg.Name, cfg.Shape, cfg.Seed)
	if err != nil {
		return nil, err
	}
	if _, err := data.DB().Exec(replSchema); err != nil {
		return nil, fmt.Errorf("%s: replication schema: %w", cfg.Name, err)
	}
	return newReplNode(sys, cl, cfg, data, primary)
}

// newReplicaFromCopy makes a replica whose database is a copy of the
// primary's, taken with SQLite's backup API while the primary serves; it
// streams from the position the copy holds.
func newReplicaFromCopy(ctx context.Context, sys *engine.System, cl *Cluster, cfg ReplConfig, from *ReplDB) (*ReplDB, error) {
	path := filepath.Join(sys.Dir, cfg.Name+".db")
	if err := from.Data.BackupTo(ctx, path); err != nil {
		return nil, fmt.Errorf("%s: copy of %s: %w", cfg.Name, from.Name(), err)
	}
	data, err := sqldb.OpenSQLFile(path, cfg.Shape)
	if err != nil {
		return nil, err
	}
	sys.OnClose(data.Close)
	d, err := newReplNode(sys, cl, cfg, data, false)
	if err != nil {
		return nil, err
	}
	d.loadPositions()
	return d, nil
}

func newReplNode(sys *engine.System, cl *Cluster, cfg ReplConfig, data *sqldb.SQLData, primary bool) (*ReplDB, error) {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxConnsPerHost: 8, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	sys.OnClose(func() error { tr.CloseIdleConnections(); return nil })
	d := &ReplDB{Data: data, cl: cl, cfg: cfg, primary: primary, at: []time.Duration{0},
		grew: make(chan struct{}), advanced: make(chan struct{}), ackCh: make(chan struct{}),
		acks: map[string]int64{}, ackAt: map[string]time.Duration{}, semiOn: true, client: &http.Client{Transport: tr}}
	var err error
	d.Server, d.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: sqldb.RoleDB, Private: sys.Token, OnKill: d.stopLoops, OnBoot: d.reseedIfBehind, OnUp: d.rejoin}, cfg.Size, d.handle)
	return d, err
}

// IsPrimary reports whether this node takes writes.
func (d *ReplDB) IsPrimary() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.primary
}

// Positions returns the newest logged and applied positions.
func (d *ReplDB) Positions() (logPos, applied int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logPos, d.applied
}

// CommitTime is when the entry at pos committed, if this node has it.
func (d *ReplDB) CommitTime(pos int64) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if pos <= 0 || pos >= int64(len(d.at)) {
		return 0, false
	}
	return d.at[pos], true
}

func (d *ReplDB) handle(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		io.WriteString(w, "ok")
	case "/read":
		d.serveRead(w, r)
	case "/write":
		d.serveWrite(w, r)
	case "/log":
		d.serveLog(w, r)
	default:
		http.Error(w, "unknown path", http.StatusNotFound)
	}
}

// ReadResult is what a read returns: the user's post count as this node
// sees it and the position it had applied when it answered.
type ReadResult struct {
	Node    string `json:"node"`
	User    int    `json:"user"`
	Posts   int    `json:"posts"`
	Applied int64  `json:"applied"`
}

func (d *ReplDB) serveRead(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	user, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	release, err := d.Hold(ctx)
	if err != nil {
		d.Overloaded(w)
		return
	}
	defer release()
	if d.Work(ctx, d.cfg.Work.Read) != nil {
		return
	}
	// read-your-writes by waiting: hold the read until this node has
	// applied the user's last write, up to a second
	if minPos, _ := strconv.ParseInt(r.URL.Query().Get("min"), 10, 64); minPos > 0 {
		if err := d.waitApplied(ctx, minPos, time.Second); err != nil {
			http.Error(w, "replica too far behind", http.StatusServiceUnavailable)
			return
		}
	}
	res := ReadResult{Node: d.Name(), User: user}
	tx, err := d.Data.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM posts WHERE user_id = ?), (SELECT v FROM meta WHERE k = 'applied')", user).Scan(&res.Posts, &res.Applied); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(res)
}

func (d *ReplDB) waitApplied(ctx context.Context, pos int64, limit time.Duration) error {
	ctx, cancel := d.Clock().WithTimeout(ctx, limit)
	defer cancel()
	for {
		d.mu.Lock()
		ok, ch := d.applied >= pos, d.advanced
		d.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// WriteResult is a write's acknowledgement.
type WriteResult struct {
	Node string `json:"node"`
	Pos  int64  `json:"pos"`
	WID  string `json:"wid"`
}

func (d *ReplDB) serveWrite(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	user, err := strconv.Atoi(q.Get("user"))
	wid := q.Get("wid")
	if err != nil || wid == "" {
		http.Error(w, "bad write", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if !d.IsPrimary() {
		http.Error(w, d.Name()+": "+ErrReadOnly.Error(), http.StatusConflict)
		return
	}
	if err := d.cl.canWrite(d); err != nil {
		http.Error(w, d.Name()+": "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	release, err := d.Hold(ctx)
	if err != nil {
		d.Overloaded(w)
		return
	}
	if d.Work(ctx, d.cfg.Work.Write) != nil {
		release()
		return
	}
	pos, err := d.commit(ctx, wid, user, string(body))
	release()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if d.cl.Mode() == ModeSemiSync && !d.waitReplica(ctx, pos) {
		return // the node died waiting: a crashed primary acknowledges nothing
	}
	json.NewEncoder(w).Encode(WriteResult{Node: d.Name(), Pos: pos, WID: wid})
}

// commit inserts a post and its log entry in one transaction.
func (d *ReplDB) commit(ctx context.Context, wid string, user int, body string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.primary {
		return 0, ErrReadOnly
	}
	pos := d.logPos + 1
	now := d.Clock().Now()
	tx, err := d.Data.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO posts(user_id, body, created, write_id) VALUES(?, ?, ?, ?)", user, body, now.Milliseconds(), wid); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO replog(pos, write_id, user_id, body, at_ms) VALUES(?, ?, ?, ?, ?)", pos, wid, user, body, now.Milliseconds()); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET v = ? WHERE k = 'applied'", pos); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	d.logPos, d.applied = pos, pos
	d.at = append(d.at, now)
	close(d.grew)
	d.grew = make(chan struct{})
	close(d.advanced)
	d.advanced = make(chan struct{})
	return pos, nil
}

// waitReplica holds a semi-sync acknowledgement until a replica has
// received pos, or falls back to async after the cluster's timeout. It
// returns false when the request ended first (the node was killed): then
// nothing may be acknowledged.
func (d *ReplDB) waitReplica(ctx context.Context, pos int64) bool {
	d.mu.Lock()
	on := d.semiOn
	d.mu.Unlock()
	if !on {
		return true
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
			return ctx.Err() == nil
		}
		select {
		case <-ch:
		case <-tctx.Done():
			if ctx.Err() != nil {
				return false
			}
			d.mu.Lock()
			if d.semiOn {
				d.semiOn = false
				d.Events().Add(EvSemiSync, d.Name(), "no replica acknowledged within %s: falling back to async", d.cl.SemiSyncTimeout())
			}
			d.mu.Unlock()
			return true
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
		d.Events().Add(EvSemiSync, d.Name(), "%s caught up: semi-sync on again", replica)
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
	rows, err := d.Data.DB().QueryContext(ctx, "SELECT pos, write_id, user_id, body, at_ms FROM replog WHERE pos >= ? ORDER BY pos LIMIT ?", from, limit)
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
			d.Events().Add(engine.EvInfo, d.Name(), "storing the log failed: %v", err)
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
	tx, err := d.Data.DB().BeginTx(ctx, nil)
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
			d.Events().Add(engine.EvInfo, d.Name(), "applying pos %d failed: %v", next, err)
			if d.Clock().Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}
}

func (d *ReplDB) applyOne(ctx context.Context, pos int64) error {
	tx, err := d.Data.DB().BeginTx(ctx, nil)
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
		d.Events().Add(engine.EvInfo, d.Name(), "re-seeding from %s failed: %v; streaming instead", p.Name(), err)
		return
	}
	d.loadPositions()
	now, _ := d.Positions()
	d.Events().Add(EvSeed, d.Name(), "was %d positions behind: seeded from a copy of %s at pos %d in %s", top-own, p.Name(), now, (d.Clock().Now() - start).Round(time.Millisecond))
}

// rejoin runs when the node comes back after a kill: it reloads its
// positions from its own files and lets the cluster decide its role.
func (d *ReplDB) rejoin() {
	d.loadPositions()
	d.cl.rejoined(d)
}

// Snap adds the role, positions and size, and for the inspector the lag,
// the row count and the writes lost or set aside here.
func (d *ReplDB) Snap() engine.NodeSnap {
	s := d.Server.Snap()
	d.Sized.Fill(&s)
	st := d.cl.dbState(d)
	s.Detail = fmt.Sprintf("%s · pos %d", st.Role, st.LogPos)
	s.Lines = append(s.Lines,
		"replication: "+st.Role,
		fmt.Sprintf("log position: %d (applied %d)", st.LogPos, st.Applied),
		fmt.Sprintf("rows (posts): %d", st.Rows))
	if st.Role == "replica" {
		s.Lines = append(s.Lines, fmt.Sprintf("lag: %d positions, %.0f ms", st.LagPos, engine.Ms(st.Lag)))
	}
	if st.Role == "primary" {
		mode := d.cl.Mode()
		if mode == ModeSemiSync && !d.SemiSyncOn() {
			mode += " (fallen back to async)"
		}
		s.Lines = append(s.Lines, "mode: "+mode)
	}
	lost, aside := d.cl.writesAt(d.Name())
	if len(lost) > 0 {
		s.Lines = append(s.Lines, fmt.Sprintf("lost here (acknowledged, missing): %d: %s", len(lost), clip(lost, 6)))
	}
	if len(aside) > 0 {
		s.Lines = append(s.Lines, fmt.Sprintf("set aside from here: %d: %s", len(aside), clip(aside, 6)))
	}
	return s
}

func clip(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(", … (+%d)", len(ids)-n)
}
