package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"testing"
	"time"
)

func TestWebNodeQueueFull(t *testing.T) {
	sys := enginetest.System(t, 1)
	n, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "small", Work: engine.WorkModel{Web: 800 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	n.Capacity().Resize(1, 1)
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	c := enginetest.Client()
	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	get := func() {
		code, body := enginetest.Do(t, c, "GET", n.URL()+"/page", "", "")
		results <- result{code, body}
	}
	go get()
	enginetest.Eventually(t, "first holds the worker", 5*time.Second, func() bool { b, _, _, _ := n.Capacity().Load(); return b == 1 })
	go get()
	enginetest.Eventually(t, "second queued", 5*time.Second, func() bool { _, q, _, _ := n.Capacity().Load(); return q == 1 })
	// saturated once snapshots a second apart keep finding the queue full
	states := []engine.State{n.Snap().State, n.Snap().State, n.Snap().State, n.Snap().State}
	if states[0] != engine.StateUp || states[3] != engine.StateSaturated {
		t.Errorf("with 1 busy and 1 queued, four snapshots read %v, want up first and saturated by the fourth", states)
	}
	rejected := 0 // 503 answers: requests the full queue turned away
	code, body := enginetest.Do(t, c, "GET", n.URL()+"/page", "", "")
	if code == http.StatusServiceUnavailable {
		rejected++
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "queue full") {
		t.Fatalf("third concurrent request: %d %q, want 503", code, body)
	}
	for i := 0; i < 2; i++ {
		select {
		case r := <-results:
			if r.code == http.StatusServiceUnavailable {
				rejected++
			}
			if r.code != 200 || !strings.Contains(r.body, "<h1>hello</h1>") {
				t.Errorf("request %d: %d %q", i, r.code, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("slow requests never answered")
		}
	}
	if rejected != 1 {
		t.Errorf("rejected = %d, want 1", rejected)
	}
	s := n.Snap()
	if s.Errors != 1 || s.Requests != 3 || s.Workers != 1 || s.QueueCap != 1 || s.Size != "small" || s.CostHour <= 0 {
		t.Errorf("snap %+v", s)
	}
	if code, body := enginetest.Do(t, c, "GET", n.URL()+"/health", "", ""); code != 200 || body != "ok" {
		t.Errorf("/health: %d %q", code, body)
	}
	if code, _ := enginetest.Do(t, c, "GET", n.URL()+"/nope", "", ""); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
	// resizing the machine resizes its capacity
	if err := n.Resize("large"); err != nil {
		t.Fatal(err)
	}
	if _, _, limit, qcap := n.Capacity().Load(); limit != 8 || qcap != engine.QueueFor(8) || n.Size().Name != "large" {
		t.Errorf("after Resize(large): %d workers, queue %d, size %s", limit, qcap, n.Size().Name)
	}
	if err := n.Resize("galactic"); err == nil {
		t.Error("Resize to an unknown size succeeded")
	}
}

func TestAppNodeSQL(t *testing.T) {
	sys := enginetest.System(t, 4)
	n, err := web.NewAppNode(sys, web.AppConfig{Name: "app-1", Size: "small", Work: defaultWork, Shape: sqldb.DefaultShape(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for table, want := range map[string]int64{"users": 1000, "posts": 5000} {
		if got, err := countRows(ctx, n.Data, table); err != nil || got != want {
			t.Fatalf("%s: %d rows (%v), want %d", table, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(sys.Dir, "app-1.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
	c := enginetest.Client()
	code, body := enginetest.Do(t, c, "GET", n.URL()+"/read?id=7", "", "")
	if id, name := enginetest.User(t, body); code != 200 || id != 7 || name != "user7" {
		t.Fatalf("/read?id=7: %d %q", code, body)
	}
	code, body = enginetest.Do(t, c, "GET", n.URL()+"/feed?id=7", "", "")
	if code != 200 {
		t.Fatalf("/feed: %d %q", code, body)
	}
	enginetest.CheckFeed(t, n.Data, 7, enginetest.Feed(t, body))

	follower, _ := enginetest.Follower(t, n.Data, 7)
	code, body = enginetest.Do(t, c, "POST", n.URL()+"/write?user=7", "", "hello from a test")
	var posted struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &posted); code != 200 || err != nil || posted.ID != 5001 {
		t.Fatalf("/write: %d %q", code, body)
	}
	if got, _ := countRows(ctx, n.Data, "posts"); got != 5001 {
		t.Fatalf("posts after a write: %d", got)
	}
	_, body = enginetest.Do(t, c, "GET", n.URL()+"/feed?id="+fmt.Sprint(follower), "", "")
	feed := enginetest.Feed(t, body)
	if len(feed) == 0 || feed[0] != (sqldb.FeedItem{ID: 5001, Author: "user7", Body: "hello from a test"}) {
		t.Fatalf("follower %d's feed head %+v, want the new post", follower, feed[0])
	}
	// the generator's path for writes is /post?user=
	if code, _ := enginetest.Do(t, c, "POST", n.URL()+"/post?user=8", "", "x"); code != 200 {
		t.Fatalf("/post: %d", code)
	}
	if code, body := enginetest.Do(t, c, "GET", n.URL()+"/page", "", ""); code != 200 || !strings.Contains(body, "<html>") {
		t.Fatalf("/page: %d", code)
	}
	for _, bad := range []string{"/nope", "/read?id=abc", "/read"} {
		if code, _ := enginetest.Do(t, c, "GET", n.URL()+bad, "", ""); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, code)
		}
	}
	if code, _ := enginetest.Do(t, c, "GET", n.URL()+"/read?id=99999", "", ""); code != http.StatusInternalServerError {
		t.Errorf("read of a missing user: %d, want 500", code)
	}
	if s := n.Snap(); s.Detail.Empty() || s.Size != "small" || s.Role != web.RoleApp {
		t.Errorf("snap %+v", s)
	}
}

func TestDBNodeAndWebTier(t *testing.T) {
	sys := enginetest.System(t, 4)
	db, err := sqldb.NewDBNode(sys, sqldb.DBConfig{Name: "db-1", Size: "small", Work: defaultWork, Shape: sqldb.DefaultShape(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(db); err != nil {
		t.Fatal(err)
	}
	if got, err := countRows(context.Background(), db.Data, "users"); err != nil || got != 1000 {
		t.Fatalf("users: %d %v", got, err)
	}
	c := enginetest.Client()
	if code, _ := enginetest.Do(t, c, "GET", db.URL()+"/read?id=7", "", ""); code != http.StatusForbidden {
		t.Fatalf("db without the token: %d, want 403", code)
	}
	code, body := enginetest.Do(t, c, "GET", db.URL()+"/read?id=7", sys.Token, "")
	if id, name := enginetest.User(t, body); code != 200 || id != 7 || name != "user7" {
		t.Fatalf("db /read: %d %q", code, body)
	}
	if code, _ := enginetest.Do(t, c, "GET", db.URL()+"/nope", sys.Token, ""); code != http.StatusBadRequest {
		t.Fatalf("db /nope: %d, want 400", code)
	}

	link := sys.AddLink("web-1", "db-1")
	meter := engine.NewMeter(sys.Clock)
	client := sqldb.NewDBClient(sys, db, link, meter)
	web, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "small", Work: defaultWork, Private: false, Store: func() engine.Store { return client }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(web); err != nil {
		t.Fatal(err)
	}
	// through the web tier: web -> link -> db
	_, body = enginetest.Do(t, c, "GET", web.URL()+"/feed?id=7", "", "")
	enginetest.CheckFeed(t, db.Data, 7, enginetest.Feed(t, body))
	follower, _ := enginetest.Follower(t, db.Data, 7)
	code, body = enginetest.Do(t, c, "POST", web.URL()+"/post?user=7", "", "via the web tier")
	if code != 200 || body != `{"id":5001}` {
		t.Fatalf("write through web: %d %q", code, body)
	}
	_, body = enginetest.Do(t, c, "GET", web.URL()+"/feed?id="+fmt.Sprint(follower), "", "")
	if f := enginetest.Feed(t, body); f[0] != (sqldb.FeedItem{ID: 5001, Author: "user7", Body: "via the web tier"}) {
		t.Fatalf("follower feed head %+v", f[0])
	}
	if q := meter.Quantiles(engine.OpFeed); q.N != 2 {
		t.Errorf("meter counted %d feeds, want 2", q.N)
	}

	// latency on the link is spent for real on the lab clock
	link.SetLatency(100 * time.Millisecond)
	t0 := sys.Clock.Now()
	if code, _ := enginetest.Do(t, c, "GET", web.URL()+"/read?id=1", "", ""); code != 200 {
		t.Fatalf("read with link latency: %d", code)
	}
	if d := sys.Clock.Now() - t0; d < 100*time.Millisecond {
		t.Errorf("read over a 100ms link took %v of lab time", d)
	}
	link.SetLatency(0)

	// the data tier dies: the web tier answers 502 and counts it as an
	// error; the meter keeps the failure out of the read latencies
	if err := db.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, body := enginetest.Do(t, c, "GET", web.URL()+"/read?id=1", "", ""); code != http.StatusBadGateway || !strings.Contains(body, "data tier") {
		t.Fatalf("read with the db down: %d %q, want 502", code, body)
	}
	if e := web.Snap().Errors; e != 1 {
		t.Errorf("web tier errors = %d, want 1", e)
	}
	if q := meter.Quantiles(engine.OpRead); q.N != 1 {
		t.Errorf("meter counted %d read latencies, want 1 (the failed read is not one)", q.N)
	}
}

// defaultWork is the modelled service time the node tests run with.
var defaultWork = engine.WorkModel{Web: 4 * time.Millisecond, Read: 1 * time.Millisecond, Feed: 6 * time.Millisecond, Write: 8 * time.Millisecond}

// countRows returns the number of rows in a table of the schema.
func countRows(ctx context.Context, d *sqldb.SQLData, table string) (int64, error) {
	var n int64
	err := d.DB().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// ctOK answers 200 to everything.
var ctOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// An upload holds a worker for the web work plus the upload's own: a page
// sent beside it on a one-worker server waits for it.
func TestWebNodeUploadHoldsAWorker(t *testing.T) {
	sys := enginetest.System(t, 1)
	n, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "small", Work: engine.WorkModel{Web: time.Millisecond, Upload: 400 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	n.Capacity().Resize(1, 4)
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	c := enginetest.Client()
	start := sys.Clock.Now()
	done := make(chan int, 1)
	go func() {
		code, _ := enginetest.Do(t, c, "POST", n.URL()+"/upload?id=1", "a photo", "")
		done <- code
	}()
	enginetest.Eventually(t, "the upload holds the worker", 5*time.Second, func() bool { b, _, _, _ := n.Capacity().Load(); return b == 1 })
	if code, _ := enginetest.Do(t, c, "GET", n.URL()+"/page?id=1", "", ""); code != http.StatusOK {
		t.Fatalf("page beside an upload: status %d", code)
	}
	if waited := sys.Clock.Now() - start; waited < 400*time.Millisecond {
		t.Errorf("a page queued behind an upload came back after %v of lab time; the upload holds the only worker for 401ms", waited)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("upload: status %d", code)
	}
}
