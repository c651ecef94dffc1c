package repl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// Read-your-writes options of the router.
const (
	RYWOff     = "off"     // reads go to replicas; a user may not see their own write
	RYWPrimary = "primary" // a user's reads go to the primary for a while after they write
	RYWWait    = "wait"    // the replica holds the read until it has the user's write
)

// RYWWindow is how long RYWPrimary keeps a user's reads on the primary.
const RYWWindow = 2 * time.Second

// Router is a web server's view of a replicated database: writes go to the
// primary, reads to the replicas in turn (to the primary when none is up).
// It counts stale reads: a read by a user that misses that user's own
// acknowledged write.
type Router struct {
	cl     *Cluster
	from   string // the web server's name, for links and write ids
	client *http.Client
	ryw    atomic.Value // string
	local  atomic.Pointer[[]string]
	seq    atomic.Int64
	rr     atomic.Int64

	mu          sync.Mutex
	primary     *ReplDB // where writes go, as the monitor last said
	reads       int64
	stale       int64
	primaryRead int64
	writeFail   int64
	downSince   time.Duration // first failed write of an outage, -1 when writes work
	maxDown     time.Duration
}

type userWrite struct {
	pos   int64
	epoch int
	at    time.Duration
}

// NewRouter makes the data-tier client of web server from.
func NewRouter(sys *engine.System, cl *Cluster, from string) *Router {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext, MaxConnsPerHost: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second}
	sys.OnClose(func() error { tr.CloseIdleConnections(); return nil })
	r := &Router{cl: cl, from: from, client: &http.Client{Transport: tr}, downSince: -1}
	r.ryw.Store(RYWOff)
	r.primary = cl.Primary()
	for _, d := range cl.Nodes() {
		cl.link(from, d.Name())
	}
	cl.addRouter(r)
	return r
}

// Primary is where this web server sends writes: the primary the monitor
// last announced to it. A web server the monitor cannot reach keeps the old
// one.
func (r *Router) Primary() *ReplDB {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.primary
}

func (r *Router) setPrimary(p *ReplDB) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.primary = p
}

// SetRYW sets the read-your-writes option.
func (r *Router) SetRYW(v string) error {
	switch v {
	case RYWOff, RYWPrimary, RYWWait:
		r.ryw.Store(v)
		return nil
	}
	return fmt.Errorf("read-your-writes takes off, primary or wait, not %q", v)
}

// SetLocal keeps this web server's reads in its own data center: they go
// only to the replicas named (nearby), or to the primary when none of
// those is up. With none named (the default) any replica serves reads.
func (r *Router) SetLocal(names ...string) {
	r.local.Store(&names)
}

// RYW returns the read-your-writes option.
func (r *Router) RYW() string { return r.ryw.Load().(string) }

// RouterStats are the router's counts.
type RouterStats struct {
	Reads, Stale, PrimaryReads, WriteFailures int64
	// WritesDown is the longest stretch from a failed write to the next
	// successful one.
	WritesDown time.Duration
}

// Stats returns the counts so far.
func (r *Router) Stats() RouterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RouterStats{Reads: r.reads, Stale: r.stale, PrimaryReads: r.primaryRead, WriteFailures: r.writeFail, WritesDown: r.maxDown}
}

// Do routes one data op: writes to the primary, everything else is a read.
func (r *Router) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if op == engine.OpWrite {
		return r.write(ctx, key, body)
	}
	return r.read(ctx, key)
}

func (r *Router) epoch() int {
	r.cl.mu.Lock()
	defer r.cl.mu.Unlock()
	return len(r.cl.promotions)
}

func (r *Router) write(ctx context.Context, user int, body string) ([]byte, error) {
	p := r.Primary()
	wid := fmt.Sprintf("%s-%d", r.from, r.seq.Add(1))
	ep := r.epoch()
	out, err := r.call(ctx, p, http.MethodPost, fmt.Sprintf("/write?user=%d&wid=%s", user, wid), body)
	now := r.cl.sys.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.writeFail++
		if r.downSince < 0 {
			r.downSince = now
		}
		return nil, err
	}
	if r.downSince >= 0 {
		if d := now - r.downSince; d > r.maxDown {
			r.maxDown = d
		}
		r.downSince = -1
	}
	var res WriteResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%s: bad write answer: %w", p.Name(), err)
	}
	r.cl.setLastWrite(user, userWrite{pos: res.Pos, epoch: ep, at: now})
	r.cl.RecordAck(AckedWrite{WID: wid, User: user, Pos: res.Pos, Node: res.Node, At: now, Replicated: res.Replicated})
	return out, nil
}

func (r *Router) read(ctx context.Context, user int) ([]byte, error) {
	lw, wrote := r.cl.lastWrite(user)
	now := r.cl.sys.Clock.Now()
	ep := r.epoch()
	wrote = wrote && lw.epoch == ep
	target := r.pickReplica()
	path := fmt.Sprintf("/read?id=%d", user)
	switch r.RYW() {
	case RYWPrimary:
		if wrote && now-lw.at < RYWWindow {
			target = nil
		}
	case RYWWait:
		if wrote {
			path += fmt.Sprintf("&min=%d", lw.pos)
		}
	}
	if target == nil {
		target = r.Primary()
	}
	out, err := r.call(ctx, target, http.MethodGet, path, "")
	if err != nil && target != r.Primary() && ctx.Err() == nil {
		// a read is safe to repeat: a replica that died under it sends it
		// to the next replica, or to the primary when none is left
		if target = r.pickReplica(); target == nil {
			target = r.Primary()
		}
		out, err = r.call(ctx, target, http.MethodGet, path, "")
	}
	if err != nil {
		return nil, err
	}
	var res ReadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%s: bad read answer: %w", target.Name(), err)
	}
	r.cl.noteRead(res.Node, user, res.Applied)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	if target.IsPrimary() {
		r.primaryRead++
	}
	if wrote && res.Applied < lw.pos {
		r.stale++
	}
	return out, nil
}

// pickReplica takes the next replica that is up and reachable, or nil
// when none is.
func (r *Router) pickReplica() *ReplDB {
	p := r.Primary()
	var local []string
	if l := r.local.Load(); l != nil {
		local = *l
	}
	var reps []*ReplDB
	for _, d := range r.cl.Nodes() {
		if d != p && (len(local) == 0 || slices.Contains(local, d.Name())) {
			reps = append(reps, d)
		}
	}
	for i := 0; i < len(reps); i++ {
		d := reps[int(r.rr.Add(1))%len(reps)]
		if d.State() == engine.StateUp && !d.IsPrimary() && !r.cl.link(r.from, d.Name()).Cut() {
			return d
		}
	}
	return nil
}

func (r *Router) call(ctx context.Context, d *ReplDB, method, path, body string) ([]byte, error) {
	if err := r.cl.link(r.from, d.Name()).Delay(ctx); err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set(engine.HeaderVia, r.cl.sys.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name(), err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", d.Name(), resp.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}
