package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DBNode is a database server: SQLite behind a small HTTP protocol on
// loopback (GET /read?id=, GET /feed?id=, POST /write?user=), on a modelled
// machine whose workers are held for the data work of each request.
type DBNode struct {
	*Server
	*Sized
	Data *SQLData
	work WorkModel
}

// DBConfig describes a database node.
type DBConfig struct {
	Name  string
	Size  string
	Work  WorkModel
	Shape DataShape
	Seed  int64
}

// NewDBNode creates the database file under sys.Dir, seeds it and makes the
// node (not yet listening; sys.AddNode starts it).
func NewDBNode(sys *System, cfg DBConfig) (*DBNode, error) {
	data, err := openData(sys, cfg.Name, cfg.Shape, cfg.Seed)
	if err != nil {
		return nil, err
	}
	n := &DBNode{Data: data, work: cfg.Work}
	n.Server, n.Sized, err = newMachine(sys, ServerConfig{Name: cfg.Name, Role: RoleDB, Private: sys.Token}, cfg.Size, n.handle)
	return n, err
}

func (n *DBNode) handle(w http.ResponseWriter, r *http.Request) {
	op, key, body, ok := dataRequest(w, r, http.StatusBadRequest)
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
	out, err := sqlDo(r.Context(), n.Data, op, key, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(out)
}

// sqlDo runs one data op on a database.
func sqlDo(ctx context.Context, d *SQLData, op Op, key int, body string) ([]byte, error) {
	switch op {
	case OpRead:
		return d.User(ctx, key)
	case OpFeed:
		return d.Feed(ctx, key)
	case OpWrite:
		id, err := d.Post(ctx, key, body)
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf(`{"id":%d}`, id)), nil
	}
	return nil, ErrBadOp
}

// dataRequest answers /health, and bad requests with status bad, itself;
// otherwise it returns the data op the request asks for, with ok true.
func dataRequest(w http.ResponseWriter, r *http.Request, bad int) (op Op, key int, body string, ok bool) {
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
func parseDataRequest(r *http.Request) (op Op, key int, body string, err error) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch p {
	case "read", "user":
		op = OpRead
	case "feed":
		op = OpFeed
	case "write", "post":
		op = OpWrite
	case "page":
		op = OpPage
	default:
		return "", 0, "", fmt.Errorf("unknown path %q", r.URL.Path)
	}
	q := r.URL.Query().Get("id")
	if q == "" {
		q = r.URL.Query().Get("user")
	}
	if op != OpPage {
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
func (n *DBNode) Snap() NodeSnap {
	s := n.Server.Snap()
	n.Sized.fill(&s)
	s.Detail = "sqlite"
	return s
}

// DBClient is a web server's connection to a database node over loopback
// HTTP, through the link between them.
type DBClient struct {
	node   *DBNode
	link   *Link
	token  string
	client *http.Client
	meter  *Meter
}

// NewDBClient connects a web server to a database node. meter may be nil.
func NewDBClient(sys *System, node *DBNode, link *Link, meter *Meter) *DBClient {
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
func (c *DBClient) Do(ctx context.Context, op Op, key int, body string) ([]byte, error) {
	start := c.node.clock.Now()
	out, err := c.do(ctx, op, key, body)
	if c.meter != nil {
		c.meter.Record(op, c.node.clock.Now()-start, err)
	}
	return out, err
}

func (c *DBClient) do(ctx context.Context, op Op, key int, body string) ([]byte, error) {
	if c.link != nil {
		if err := c.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	var req *http.Request
	var err error
	u := fmt.Sprintf("http://%s/%s?id=%d", c.node.Addr(), op, key)
	if op == OpWrite {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set(HeaderVia, c.token)
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
