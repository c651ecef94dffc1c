package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// Replication modes.
const (
	// ModeAsync acknowledges a write after the primary's own commit.
	ModeAsync = "async"
	// ModeSemiSync acknowledges a write only after at least one replica has
	// received it, falling back to async after a timeout (as MySQL does).
	ModeSemiSync = "semi-sync"
)

// Semi-sync wait points (MySQL's rpl_semi_sync_source_wait_point).
const (
	// WaitAfterSync logs and ships a write, waits for a replica to have
	// it, and only then commits it where readers see it: nobody sees a
	// write a failover could lose (MySQL's default since 5.7).
	WaitAfterSync = "after-sync"
	// WaitAfterCommit commits the write, where readers see it at once, and
	// then waits for a replica before acknowledging it: another user can
	// read a write that a failover then loses (MySQL's only mode before
	// 5.7).
	WaitAfterCommit = "after-commit"
)

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

// Snap adds the role, positions and size, and for the inspector the lag,
// the row count and the writes lost or set aside here.
func (d *ReplDB) Snap() engine.NodeSnap {
	s := d.Server.Snap()
	d.Sized.Fill(&s)
	st := d.cl.dbState(d)
	role := roleText(st.Role)
	s.Detail = engine.Textf("repl.detail", "%s · pos %d", role, st.LogPos)
	s.Badge = st.Role
	s.Lines = append(s.Lines,
		engine.Line{Label: engine.Textf("repl.replication", "replication"), Value: role},
		engine.Line{Label: engine.Textf("repl.log_position", "log position"),
			Value: engine.Textf("repl.log_position.value", "%d (applied %d)", st.LogPos, st.Applied)},
		engine.Line{Label: engine.Textf("repl.rows", "rows (posts)"), Value: engine.Textf("repl.rows.value", "%d", st.Rows)})
	if st.Role == "replica" {
		s.Lines = append(s.Lines, engine.Line{Label: engine.Textf("repl.lag", "lag"),
			Value: engine.Textf("repl.lag.value", "%d positions, %.0f ms", st.LagPos, engine.Ms(st.Lag))})
	}
	if st.Role == "primary" {
		mode := engine.Textf("repl.mode.value", "%s", engine.KnobValue(d.cl.Mode()))
		if d.cl.Mode() == ModeSemiSync {
			mode = engine.Textf("repl.mode.semisync", "%s, %s · timeout %s (MySQL's default: 10 s)",
				engine.KnobValue(d.cl.Mode()), engine.KnobValue(d.cl.WaitPoint()), durText(d.cl.SemiSyncTimeout()))
			if !d.SemiSyncOn() {
				mode = engine.Textf("repl.mode.fallen_back", "%s (fallen back to async)", engine.KnobValue(d.cl.Mode()))
			}
		}
		s.Lines = append(s.Lines, engine.Line{Label: engine.Textf("repl.mode", "mode"), Value: mode})
	}
	lost, phantom, aside := d.cl.writesAt(d.Name())
	if len(lost) > 0 {
		s.Lines = append(s.Lines, engine.Line{Label: engine.Textf("repl.lost_here", "lost here (acknowledged, missing)"),
			Value: engine.Textf("repl.writes.value", "%d: %s", len(lost), clip(lost, 6))})
	}
	if len(phantom) > 0 {
		s.Lines = append(s.Lines, engine.Line{Label: engine.Textf("repl.phantom_here", "phantom reads (read on the old primary, missing)"),
			Value: engine.Textf("repl.writes.value", "%d: %s", len(phantom), clip(phantom, 6))})
	}
	if len(aside) > 0 {
		s.Lines = append(s.Lines, engine.Line{Label: engine.Textf("repl.set_aside_here", "set aside from here"),
			Value: engine.Textf("repl.writes.value", "%d: %s", len(aside), clip(aside, 6))})
	}
	return s
}

// roleText is a database's role as a word for the lab to translate.
func roleText(role string) engine.Text {
	switch role {
	case "primary":
		return engine.Textf("repl.role.primary", "primary")
	case "replica":
		return engine.Textf("repl.role.replica", "replica")
	case "former primary":
		return engine.Textf("repl.role.former_primary", "former primary")
	case "old primary, still writing":
		return engine.Textf("repl.role.old_primary_writing", "old primary, still writing")
	}
	return engine.Textf("repl.role.other", "%s", role)
}

// durText is a duration as the inspector writes it: "1 s", "200 ms".
func durText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func clip(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(", … (+%d)", len(ids)-n)
}
