package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// The router's calls to the shards over loopback HTTP.

// get makes a read and decodes its answer.
func (r *Router) get(ctx context.Context, s *Shard, path string, out any) error {
	var body []byte
	if err := r.send(ctx, s, http.MethodGet, path, &body); err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// send makes one call to a shard and books it under the shard's name.
func (r *Router) send(ctx context.Context, s *Shard, method, path string, out *[]byte) error {
	start := r.sys.Clock.Now()
	err := r.call(ctx, s, method, path, out)
	end := r.sys.Clock.Now()
	r.book.Record(s.Name(), end-start, err != nil)
	r.calls.add(s.Name(), end)
	return err
}

func (r *Router) call(ctx context.Context, s *Shard, method, path string, out *[]byte) error {
	addr := s.Addr()
	if addr == "" {
		return fmt.Errorf("%s: %w", s.Name(), engine.ErrDown)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set(engine.HeaderVia, r.sys.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", s.Name(), resp.Status)
	}
	if out != nil {
		*out = b
	}
	return nil
}

func joinInts(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}

// newClient is a connection pool to the shards.
func newClient(sys *engine.System) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxConnsPerHost:     128,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	sys.OnClose(func() error { tr.CloseIdleConnections(); return nil })
	return &http.Client{Transport: tr}
}

// openCopy opens a copied shard file; the system closes it.
func openCopy(sys *engine.System, path string) (*sqldb.SQLData, error) {
	d, err := sqldb.OpenSQLFile(path, sqldb.DataShape{})
	if err != nil {
		return nil, err
	}
	sys.OnClose(d.Close)
	return d, nil
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
