// Serving reads and writes: the read and write handlers and the primary's
// commit.

package repl

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

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
	tx, err := d.Data.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
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
	// Replicated is true when a replica had received the write before it
	// was acknowledged: semi-sync in force, not fallen back to async.
	Replicated bool `json:"replicated"`
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
	// after-sync holds the write back from readers until a replica has it
	semi := d.cl.Mode() == ModeSemiSync
	hold := semi && d.cl.WaitPoint() == WaitAfterSync && d.SemiSyncOn()
	pos, err := d.commit(ctx, wid, user, string(body), hold)
	release()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	replicated := false
	if semi {
		var ok bool
		if ok, replicated = d.waitReplica(ctx, pos); !ok {
			return // the node died waiting: a crashed primary acknowledges nothing
		}
		if hold {
			// a replica has it (or semi-sync fell back to async): now the
			// engine commit, and readers see it
			if err := d.commitTo(ctx, pos); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
	}
	json.NewEncoder(w).Encode(WriteResult{Node: d.Name(), Pos: pos, WID: wid, Replicated: replicated})
}

// commit appends a write to the replication log (MySQL's binlog), from
// where replicas fetch it, and, unless hold, commits it to the posts table
// in the same transaction, where readers see it. A held write is committed
// later by commitTo, once a replica has it (after-sync). Commits follow
// the log's order: committing a write commits every held write before it.
func (d *ReplDB) commit(ctx context.Context, wid string, user int, body string, hold bool) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.primary {
		return 0, ErrReadOnly
	}
	pos := d.logPos + 1
	now := d.Clock().Now()
	tx, err := d.Data.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO replog(pos, write_id, user_id, body, at_ms) VALUES(?, ?, ?, ?, ?)", pos, wid, user, body, now.Milliseconds()); err != nil {
		return 0, err
	}
	if !hold {
		if err := commitLogged(ctx, tx, d.applied, pos); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	d.logPos = pos
	d.at = append(d.at, now)
	close(d.grew)
	d.grew = make(chan struct{})
	if !hold {
		d.committed(pos)
	}
	return pos, nil
}

// commitTo commits the logged writes up to pos to the posts table, in log
// order: the engine commit of after-sync, once a replica has them.
func (d *ReplDB) commitTo(ctx context.Context, pos int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.primary {
		return ErrReadOnly
	}
	if pos > d.logPos {
		return fmt.Errorf("%s: position %d is no longer in the log", d.Name(), pos)
	}
	if pos <= d.applied {
		return nil // a later write committed it already
	}
	tx, err := d.Data.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := commitLogged(ctx, tx, d.applied, pos); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.committed(pos)
	return nil
}

// recoverLogged commits every write in the log that a crash left
// uncommitted, as MySQL's crash recovery commits the transactions it
// finds in the binlog. It runs when a former primary comes back.
func (d *ReplDB) recoverLogged(ctx context.Context) error {
	d.mu.Lock()
	primary, pos, applied := d.primary, d.logPos, d.applied
	d.mu.Unlock()
	if !primary || pos <= applied {
		return nil
	}
	return d.commitTo(ctx, pos)
}

// execer is a transaction: database/sql's, or sqldb's with prepared
// statements.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// commitLogged inserts the posts of log positions (after, upTo] and moves
// the applied mark, inside tx.
func commitLogged(ctx context.Context, tx execer, after, upTo int64) error {
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO posts(user_id, body, created, write_id) SELECT user_id, body, at_ms, write_id FROM replog WHERE pos > ? AND pos <= ? ORDER BY pos", after, upTo); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "UPDATE meta SET v = ? WHERE k = 'applied'", upTo)
	return err
}

// committed records, under d.mu, that writes up to pos are readable.
func (d *ReplDB) committed(pos int64) {
	d.applied = pos
	close(d.advanced)
	d.advanced = make(chan struct{})
}
