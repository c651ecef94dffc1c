package shard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// Config describes a shard node.
type Config struct {
	Name string
	Size string
	// Work is the modelled service time: Read for a point read (a user's
	// posts, a timeline), Feed for one shard's part of a scatter-gather,
	// Write for an insert.
	Work engine.WorkModel
	// Jitter draws each request's service time from a lognormal
	// distribution (σ = 1.5) with Work's mean: a long tail, as real
	// service times have.
	Jitter bool
}

// Shard is a database node holding one part of the data: SQLite behind a
// small HTTP protocol on loopback, on a modelled machine. A replica is a
// Shard too; it applies what its primary forwards.
type Shard struct {
	*engine.Server
	*engine.Sized
	data *sqldb.SQLData
	cfg  Config
	sys  *engine.System

	// wmu orders writes: each commits and is queued to the replicas in
	// the same order
	wmu  sync.Mutex
	reps []*follower

	rows    atomic.Int64 // rows held, kept by every insert and delete
	served  atomic.Int64 // requests answered
	primary atomic.Pointer[Shard]
	stop    context.CancelFunc // a replica's stream from its primary
	// slot is the place in the shard map this node serves: its own name,
	// or for a replica its primary's slot, which it takes over when
	// promoted
	slot string
	// successor is the replica promoted in this node's place while it
	// was dead: on its restart this node copies it and follows it
	successor atomic.Pointer[Shard]
}

// NewShard makes an empty shard node (sys.AddNode starts it).
func NewShard(sys *engine.System, cfg Config) (*Shard, error) {
	return newNode(sys, cfg, RoleShard)
}

func newNode(sys *engine.System, cfg Config, role engine.Role) (*Shard, error) {
	d, err := openShard(sys, cfg.Name)
	if err != nil {
		return nil, err
	}
	s := &Shard{data: d, cfg: cfg, sys: sys, slot: cfg.Name}
	s.Server, s.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: role, Private: sys.Token, Layer: engine.LayerData, OnBoot: s.onBoot}, cfg.Size, s.handle)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Slot is the place in the shard map this node serves.
func (s *Shard) Slot() string { return s.slot }

// Rows is how many rows the shard holds.
func (s *Shard) Rows() int64 { return s.rows.Load() }

// Served is how many data requests the shard has answered.
func (s *Shard) Served() int64 { return s.served.Load() }

// Data is the shard's database.
func (s *Shard) Data() *sqldb.SQLData { return s.data }

// mutation is one write: rows to insert and keys whose rows to delete.
type mutation struct {
	Rows []row
	Del  []int
}

// apply commits a mutation and queues it to the replicas. It returns how
// many rows were new.
func (s *Shard) apply(ctx context.Context, m mutation) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	added, err := s.applyLocal(ctx, m)
	if err != nil {
		return 0, err
	}
	for _, f := range s.reps {
		f.push(m)
	}
	return added, nil
}

// applyLocal commits a mutation on this node only.
func (s *Shard) applyLocal(ctx context.Context, m mutation) (int64, error) {
	tx, err := s.data.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	added, err := insertIn(ctx, tx, m.Rows)
	if err != nil {
		return 0, err
	}
	deleted, err := deleteIn(ctx, tx, m.Del)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	s.rows.Add(added - deleted)
	return added, nil
}

// work holds the machine for an op's modelled time.
func (s *Shard) work(ctx context.Context, d time.Duration) error {
	if s.cfg.Jitter && d > 0 {
		// lognormal with the same mean, σ = 1.5: most requests quick, a
		// long tail of slow ones, as real service times have
		d = time.Duration(float64(d) * math.Exp(1.5*rand.NormFloat64()-1.125))
	}
	return s.Work(ctx, d)
}

// busy holds one of the shard's workers for d of modelled work done on
// it from outside a request (the mover's reads and copies).
func (s *Shard) busy(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := isUp(s); err != nil {
		return err
	}
	release, err := s.Hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.Work(ctx, d)
}

func (s *Shard) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		io.WriteString(w, "ok")
		return
	}
	release, err := s.Hold(r.Context())
	if err != nil {
		s.Overloaded(w)
		return
	}
	defer release()
	q := r.URL.Query()
	ctx := r.Context()
	var out any
	switch r.URL.Path {
	case "/post", "/signup", "/fanout":
		m, err := writeOf(r.URL.Path, q, r.Body)
		if err == nil {
			err = s.work(ctx, s.cfg.Work.Write)
		}
		if err == nil {
			_, err = s.apply(ctx, m)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = map[string]int{"rows": len(m.Rows)}
	case "/apply":
		var m mutation
		if err := decodeMutation(r.Body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.work(ctx, s.cfg.Work.Write); err != nil {
			return
		}
		if _, err := s.applyLocal(ctx, m); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = map[string]int{"rows": len(m.Rows)}
	case "/posts", "/timeline", "/recent", "/follows", "/followers":
		d := s.cfg.Work.Read
		if r.URL.Path == "/recent" {
			d = s.cfg.Work.Feed
		}
		if err := s.work(ctx, d); err != nil {
			return
		}
		out, err = s.read(ctx, r.URL.Path, q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		http.Error(w, "unknown path "+r.URL.Path, http.StatusNotFound)
		return
	}
	s.served.Add(1)
	json.NewEncoder(w).Encode(out)
}

// Post is one post as a read returns it.
type Post struct {
	ID      int64 `json:"id"`
	User    int64 `json:"user"`
	Created int64 `json:"created"`
}

// feedLen is how many posts a feed or a user's page shows.
const feedLen = 20

func (s *Shard) read(ctx context.Context, path string, q map[string][]string) (any, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch path {
	case "/posts":
		u, err := strconv.Atoi(get("user"))
		if err != nil {
			return nil, fmt.Errorf("bad user %q", get("user"))
		}
		return s.posts(ctx, "SELECT id, user_id, created FROM posts WHERE user_id = ? ORDER BY id DESC LIMIT 10", u)
	case "/timeline":
		u, err := strconv.Atoi(get("user"))
		if err != nil {
			return nil, fmt.Errorf("bad user %q", get("user"))
		}
		return s.posts(ctx, "SELECT post_id, author, created FROM timeline WHERE owner = ? ORDER BY post_id DESC LIMIT 20", u)
	case "/recent":
		ids, err := intList(get("users"))
		if err != nil || len(ids) == 0 {
			return nil, fmt.Errorf("bad users %q", get("users"))
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		qs := "SELECT id, user_id, created FROM posts WHERE user_id IN (?" + strings.Repeat(",?", len(ids)-1) + ") ORDER BY id DESC LIMIT 20"
		return s.posts(ctx, qs, args...)
	case "/follows", "/followers":
		u, err := strconv.Atoi(get("user"))
		if err != nil {
			return nil, fmt.Errorf("bad user %q", get("user"))
		}
		qs := "SELECT followee FROM follows WHERE follower = ?"
		if path == "/followers" {
			qs = "SELECT follower FROM followers WHERE followee = ?"
		}
		rows, err := s.data.QueryContext(ctx, qs, u)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []int64{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		return out, rows.Err()
	}
	return nil, fmt.Errorf("unknown read %s", path)
}

func (s *Shard) posts(ctx context.Context, q string, args ...any) ([]Post, error) {
	rows, err := s.data.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Post{}
	for rows.Next() {
		var p Post
		if err := rows.Scan(&p.ID, &p.User, &p.Created); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// writeOf reads a write request: a post, a sign-up or a fan-out.
func writeOf(path string, q map[string][]string, body io.Reader) (mutation, error) {
	num := func(k string) (int64, error) {
		v := ""
		if x := q[k]; len(x) > 0 {
			v = x[0]
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad %s %q", k, v)
		}
		return n, nil
	}
	switch path {
	case "/post":
		u, err1 := num("user")
		id, err2 := num("id")
		at, err3 := num("at")
		if err := firstErr(err1, err2, err3); err != nil {
			return mutation{}, err
		}
		b, _ := io.ReadAll(io.LimitReader(body, 1024))
		return mutation{Rows: []row{{1, []any{u, id, string(b), at}}}}, nil
	case "/signup":
		u, err := num("user")
		if err != nil {
			return mutation{}, err
		}
		return mutation{Rows: []row{{0, []any{u, fmt.Sprintf("user %d", u), CountryOf(int(u))}}}}, nil
	case "/fanout":
		id, err1 := num("post")
		a, err2 := num("author")
		at, err3 := num("at")
		if err := firstErr(err1, err2, err3); err != nil {
			return mutation{}, err
		}
		v := ""
		if x := q["owners"]; len(x) > 0 {
			v = x[0]
		}
		owners, err := intList(v)
		if err != nil {
			return mutation{}, err
		}
		m := mutation{}
		for _, o := range owners {
			m.Rows = append(m.Rows, row{4, []any{int64(o), id, a, at}})
		}
		return m, nil
	}
	return mutation{}, fmt.Errorf("unknown write %s", path)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// intList parses "1,2,3".
func intList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad id %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// wireRow is a row on the replication stream.
type wireRow struct {
	T    int   `json:"t"`
	Vals []any `json:"v"`
}

type wireMutation struct {
	Rows []wireRow `json:"rows,omitempty"`
	Del  []int     `json:"del,omitempty"`
}

func encodeMutation(m mutation) ([]byte, error) {
	w := wireMutation{Del: m.Del}
	for _, r := range m.Rows {
		w.Rows = append(w.Rows, wireRow{r.t, r.vals})
	}
	return json.Marshal(w)
}

func decodeMutation(r io.Reader, m *mutation) error {
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	dec.UseNumber()
	var w wireMutation
	if err := dec.Decode(&w); err != nil {
		return err
	}
	m.Del = w.Del
	for _, wr := range w.Rows {
		if wr.T < 0 || wr.T >= len(tables) || len(wr.Vals) != len(tables[wr.T].cols) {
			return fmt.Errorf("bad row for table %d", wr.T)
		}
		vals := make([]any, len(wr.Vals))
		for i, v := range wr.Vals {
			switch x := v.(type) {
			case json.Number:
				n, err := x.Int64()
				if err != nil {
					return err
				}
				vals[i] = n
			case string:
				vals[i] = x
			default:
				return fmt.Errorf("bad value %v", v)
			}
		}
		m.Rows = append(m.Rows, row{wr.T, vals})
	}
	return nil
}

// Snap adds the size, cost, rows and the node's part in the map.
func (s *Shard) Snap() engine.NodeSnap {
	n := s.Server.Snap()
	s.Sized.Fill(&n)
	if p := s.primary.Load(); p != nil {
		n.Detail = engine.Textf("shard.replica.detail", "replica of %s · %d rows · %d behind", p.Name(), s.Rows(), p.behind(s))
		n.Badge = "replica"
	} else if s.Role() == RoleReplica {
		n.Detail = engine.Textf("shard.promoted.detail", "primary of %s since a failover · %d rows", s.slot, s.Rows())
		n.Badge = "primary"
	} else if nx := s.successor.Load(); nx != nil && nx.primary.Load() == nil {
		n.Detail = engine.Textf("shard.demoted.detail", "out of the map: %s took its place", nx.Name())
	} else {
		n.Detail = engine.Textf("shard.detail", "%d rows", s.Rows())
	}
	return n
}
