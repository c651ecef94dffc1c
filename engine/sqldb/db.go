package sqldb

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"scalelab/engine"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DBNode is a database server: SQLite behind a small HTTP protocol on
// loopback (GET /read?id=, GET /feed?id=, POST /write?user=), on a modelled
// machine whose workers are held for the data work of each request.
type DBNode struct {
	*engine.Server
	*engine.Sized
	Data *SQLData
	work engine.WorkModel
	// reads counts the reads this node answered: the figure a lesson takes
	// from the database itself, not from a caller's bookkeeping
	reads atomic.Int64
}

// Reads is how many point reads this node has answered.
func (n *DBNode) Reads() int64 { return n.reads.Load() }

// DBConfig describes a database node.
type DBConfig struct {
	Name  string
	Size  string
	Work  engine.WorkModel
	Shape DataShape
	Seed  int64
}

// NewDBNode creates the database file under sys.Dir, seeds it and makes the
// node (not yet listening; sys.AddNode starts it).
func NewDBNode(sys *engine.System, cfg DBConfig) (*DBNode, error) {
	data, err := OpenData(sys, cfg.Name, cfg.Shape, cfg.Seed)
	if err != nil {
		return nil, err
	}
	n := &DBNode{Data: data, work: cfg.Work}
	n.Server, n.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: RoleDB, Private: sys.Token}, cfg.Size, n.handle)
	return n, err
}

func (n *DBNode) handle(w http.ResponseWriter, r *http.Request) {
	op, key, body, ok := DataRequest(w, r, http.StatusBadRequest)
	if !ok {
		return
	}
	release, err := n.Hold(r.Context())
	if err != nil {
		n.Overloaded(w)
		return
	}
	defer release()
	if n.Work(r.Context(), n.work.Data(op)) != nil {
		return
	}
	out, err := n.Data.Do(r.Context(), op, key, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if op == engine.OpRead {
		n.reads.Add(1)
	}
	w.Write(out)
}

// Do runs one data op on the database.
func (d *SQLData) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	switch op {
	case engine.OpRead:
		return d.User(ctx, key)
	case engine.OpFeed:
		return d.Feed(ctx, key)
	case engine.OpWrite:
		id, err := d.Post(ctx, key, body)
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf(`{"id":%d}`, id)), nil
	}
	return nil, engine.ErrBadOp
}

// DataRequest answers /health, and bad requests with status bad, itself;
// otherwise it returns the data op the request asks for, with ok true.
func DataRequest(w http.ResponseWriter, r *http.Request, bad int) (op engine.Op, key int, body string, ok bool) {
	if r.URL.Path == "/health" {
		io.WriteString(w, "ok")
		return "", 0, "", false
	}
	op, key, body, err := parseDataRequest(r)
	if err != nil {
		http.Error(w, err.Error(), bad)
		return "", 0, "", false
	}
	return op, key, body, true
}

// parseDataRequest reads /read?id=, /feed?id=, /write?user= (the web tier's
// and the generator's paths).
func parseDataRequest(r *http.Request) (op engine.Op, key int, body string, err error) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch p {
	case "read", "user":
		op = engine.OpRead
	case "feed":
		op = engine.OpFeed
	case "write", "post":
		op = engine.OpWrite
	case "page":
		op = engine.OpPage
	case "upload":
		op = engine.OpUpload
	default:
		return "", 0, "", fmt.Errorf("unknown path %q", r.URL.Path)
	}
	q := r.URL.Query().Get("id")
	if q == "" {
		q = r.URL.Query().Get("user")
	}
	if op != engine.OpPage {
		key, err = strconv.Atoi(q)
		if err != nil {
			return "", 0, "", fmt.Errorf("bad key %q", q)
		}
	}
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil {
			return "", 0, "", err
		}
		body = string(b)
	}
	return op, key, body, nil
}

// Snap adds the size, cost and row count.
func (n *DBNode) Snap() engine.NodeSnap {
	s := n.Server.Snap()
	n.Sized.Fill(&s)
	s.Detail = engine.Textf("sqldb.detail", "sqlite")
	return s
}

// DBClient is a web server's connection to a database node over loopback
// HTTP, through the link between them.
type DBClient struct {
	node   *DBNode
	link   *engine.Link
	token  string
	client *http.Client
	meter  *engine.Meter
}

// NewDBClient connects a web server to a database node. meter may be nil.
func NewDBClient(sys *engine.System, node *DBNode, link *engine.Link, meter *engine.Meter) *DBClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxConnsPerHost:     128, // a connection pool, as database drivers keep
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	sys.OnClose(func() error { tr.CloseIdleConnections(); return nil })
	return &DBClient{node: node, link: link, token: sys.Token, client: &http.Client{Transport: tr}, meter: meter}
}

// Do sends one data op to the database node.
func (c *DBClient) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	start := c.node.Clock().Now()
	out, err := c.do(ctx, op, key, body)
	if c.meter != nil {
		c.meter.Record(op, c.node.Clock().Now()-start, err)
	}
	return out, err
}

func (c *DBClient) do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if c.link != nil {
		if err := c.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	var req *http.Request
	var err error
	u := fmt.Sprintf("http://%s/%s?id=%d", c.node.Addr(), op, key)
	if op == engine.OpWrite {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set(engine.HeaderVia, c.token)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.node.Name(), err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.node.Name(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", c.node.Name(), resp.Status)
	}
	return out, nil
}
