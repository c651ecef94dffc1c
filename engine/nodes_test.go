package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ctClient is a test client that keeps no idle connections, so a killed
// server is dialled afresh and nothing lingers after a test.
func ctClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
}

// ctDo sends one request; token, when set, goes in HeaderVia.
func ctDo(t testing.TB, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(HeaderVia, token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// ctSystem is a running (unpaused) empty system closed at the end of the test.
func ctSystem(t testing.TB, speed float64) *System {
	t.Helper()
	sys, err := NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	if err := sys.Clock.SetSpeed(speed); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Resume()
	return sys
}

func ctHasEvent(sys *System, kind, node string) bool {
	for _, e := range sys.Events.All() {
		if e.Kind == kind && e.Node == node {
			return true
		}
	}
	return false
}

func TestServerKillRestart(t *testing.T) {
	sys := ctSystem(t, 1)
	srv := NewServer(ServerConfig{Name: "web-1", Role: RoleWeb, Boot: 300 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
	if srv.State() != StateDown || srv.Addr() != "" {
		t.Fatalf("a new server is %s at %q before Start", srv.State(), srv.Addr())
	}
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	c := ctClient()
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || srv.State() != StateUp {
		t.Fatalf("started server: %s at %q", srv.State(), addr)
	}
	if code, _ := ctDo(t, c, "GET", srv.URL()+"/x", "", ""); code != 200 {
		t.Fatalf("GET = %d", code)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if srv.State() != StateDown || srv.Snap().Addr != "" {
		t.Fatalf("after Kill: state %s, snap addr %q", srv.State(), srv.Snap().Addr)
	}
	if conn, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		conn.Close()
		t.Fatal("dial after Kill succeeded: listener still open")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Kill: %v, want connection refused", err)
	}
	if err := srv.Kill(); !errors.Is(err, ErrDown) {
		t.Fatalf("Kill of a down node = %v, want ErrDown", err)
	}

	r0 := sys.Clock.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.State() != StateRestarting {
		t.Fatalf("just after Restart: %s", srv.State())
	}
	if err := srv.Restart(); !errors.Is(err, ErrNotDown) {
		t.Fatalf("Restart while restarting = %v, want ErrNotDown", err)
	}
	if err := srv.Kill(); !errors.Is(err, ErrDown) {
		t.Fatalf("Kill while restarting = %v, want ErrDown", err)
	}
	ctEventually(t, "back up", 5*time.Second, func() bool { return srv.State() == StateUp })
	if boot := sys.Clock.Now() - r0; boot < 300*time.Millisecond {
		t.Fatalf("up after %v of lab time, before the 300ms boot", boot)
	}
	if srv.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", srv.Addr(), addr)
	}
	if code, _ := ctDo(t, c, "GET", "http://"+addr+"/x", "", ""); code != 200 {
		t.Fatalf("GET after restart = %d", code)
	}
	if err := srv.Restart(); !errors.Is(err, ErrNotDown) {
		t.Fatalf("Restart of an up node = %v, want ErrNotDown", err)
	}
	for _, k := range []string{EvKill, EvRestart, EvUp} {
		if !ctHasEvent(sys, k, "web-1") {
			t.Errorf("no %s event for web-1 in %v", k, sys.Events.All())
		}
	}
	if n := srv.Snap().Requests; n != 2 {
		t.Errorf("Requests = %d, want 2", n)
	}
}

// A request in flight when its node is killed must fail on the client; it
// must never look like a success. (Kill must close the connections before
// it cancels the handlers: a handler whose lab sleep is cancelled returns
// without writing, and net/http would send an implicit empty 200.)
func TestServerKillFailsInFlight(t *testing.T) {
	sys := ctSystem(t, 1)
	c := ctClient()
	for i := 0; i < 40; i++ {
		srv := NewServer(ServerConfig{Name: fmt.Sprintf("web-%d", i), Role: RoleWeb}, sys.Clock, sys.Events, ctOK)
		if err := sys.AddNode(srv); err != nil {
			t.Fatal(err)
		}
		srv.SetLatency(time.Hour)
		inflight := make(chan error, 1)
		go func() {
			resp, err := c.Get(srv.URL() + "/slow")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					inflight <- nil // a whole response: the kill looked like a success
					return
				}
			}
			inflight <- err
		}()
		ctEventually(t, "request in flight", 5*time.Second, func() bool { return srv.Snap().InFlight == 1 })
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-inflight:
			if err == nil {
				t.Fatalf("trial %d: a request in flight during a kill got a complete response", i)
			}
			if r := Classify(err, nil); r != ReasonReset {
				t.Errorf("trial %d: failed as %q (%v), want reset", i, r, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a request in flight survived the kill")
		}
	}
}

func TestServerRestartWaitsForClock(t *testing.T) {
	sys := ctSystem(t, 1)
	srv := NewServer(ServerConfig{Name: "web-1", Role: RoleWeb, Boot: 100 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	sys.Clock.Pause()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ctLetRealTimePass(300 * time.Millisecond)
	if st := srv.State(); st != StateRestarting {
		t.Fatalf("booted while the lab clock was paused: %s", st)
	}
	sys.Clock.Resume()
	srv.WaitStarted()
	if st := srv.State(); st != StateUp {
		t.Fatalf("after WaitStarted: %s", st)
	}
}

func TestServerPrivate(t *testing.T) {
	sys := ctSystem(t, 1)
	srv := NewServer(ServerConfig{Name: "web-1", Role: RoleWeb, Private: "s3cret"}, sys.Clock, sys.Events, ctOK)
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	c := ctClient()
	if code, body := ctDo(t, c, "GET", srv.URL()+"/page", "", ""); code != http.StatusForbidden || !strings.Contains(body, "load balancer") {
		t.Fatalf("no token: %d %q, want 403", code, body)
	}
	if code, _ := ctDo(t, c, "GET", srv.URL()+"/page", "wrong", ""); code != http.StatusForbidden {
		t.Fatalf("wrong token: %d, want 403", code)
	}
	if code, body := ctDo(t, c, "GET", srv.URL()+"/page", "s3cret", ""); code != 200 || body != "ok" {
		t.Fatalf("with token: %d %q", code, body)
	}
	if s := srv.Snap(); s.Public || s.Requests != 1 {
		t.Fatalf("snap: Public %v Requests %d; want private, refused requests not handled", s.Public, s.Requests)
	}
}

func TestWebNodeQueueFull(t *testing.T) {
	sys := ctSystem(t, 1)
	n, err := NewWebNode(sys, WebConfig{Name: "web-1", Size: "small", Work: WorkModel{Web: 800 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	n.Capacity().Resize(1, 1)
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	c := ctClient()
	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	get := func() {
		code, body := ctDo(t, c, "GET", n.URL()+"/page", "", "")
		results <- result{code, body}
	}
	go get()
	ctEventually(t, "first holds the worker", 5*time.Second, func() bool { b, _, _, _ := n.Capacity().Load(); return b == 1 })
	go get()
	ctEventually(t, "second queued", 5*time.Second, func() bool { _, q, _, _ := n.Capacity().Load(); return q == 1 })
	if st := n.Snap().State; st != StateSaturated {
		t.Errorf("with 1 busy and 1 queued the node is %s, want saturated", st)
	}
	code, body := ctDo(t, c, "GET", n.URL()+"/page", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "queue full") {
		t.Fatalf("third concurrent request: %d %q, want 503", code, body)
	}
	for i := 0; i < 2; i++ {
		select {
		case r := <-results:
			if r.code != 200 || !strings.Contains(r.body, "<h1>hello</h1>") {
				t.Errorf("request %d: %d %q", i, r.code, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("slow requests never answered")
		}
	}
	if n.Capacity().Rejected() != 1 {
		t.Errorf("Rejected = %d, want 1", n.Capacity().Rejected())
	}
	s := n.Snap()
	if s.Errors != 1 || s.Requests != 3 || s.Workers != 1 || s.QueueCap != 1 || s.Size != "small" || s.CostHour <= 0 {
		t.Errorf("snap %+v", s)
	}
	if code, body := ctDo(t, c, "GET", n.URL()+"/health", "", ""); code != 200 || body != "ok" {
		t.Errorf("/health: %d %q", code, body)
	}
	if code, _ := ctDo(t, c, "GET", n.URL()+"/nope", "", ""); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
	// resizing the machine resizes its capacity
	if err := n.Resize("large"); err != nil {
		t.Fatal(err)
	}
	if _, _, limit, qcap := n.Capacity().Load(); limit != 8 || qcap != QueueFor(8) || n.Size().Name != "large" {
		t.Errorf("after Resize(large): %d workers, queue %d, size %s", limit, qcap, n.Size().Name)
	}
	if err := n.Resize("galactic"); err == nil {
		t.Error("Resize to an unknown size succeeded")
	}
}

func ctUser(t testing.TB, body string) (id int, name string) {
	t.Helper()
	var u struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
		Bio  string `json:"bio"`
	}
	if err := json.Unmarshal([]byte(body), &u); err != nil || u.Bio == "" {
		t.Fatalf("user JSON %q: %v", body, err)
	}
	return u.ID, u.Name
}

func ctFeed(t testing.TB, body string) []FeedItem {
	t.Helper()
	var items []FeedItem
	if err := json.Unmarshal([]byte(body), &items); err != nil {
		t.Fatalf("feed JSON %q: %v", body, err)
	}
	return items
}

// ctCheckFeed checks a user's feed against the database: FeedLen posts,
// newest first, each by an account the user follows.
func ctCheckFeed(t testing.TB, d *SQLData, user int, items []FeedItem) {
	t.Helper()
	want, err := d.FeedItems(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != d.Shape().FeedLen || len(want) != len(items) {
		t.Fatalf("feed of %d has %d items, db says %d, FeedLen %d", user, len(items), len(want), d.Shape().FeedLen)
	}
	follows := map[string]bool{}
	rows, err := d.DB().Query("SELECT followee FROM follows WHERE follower = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f int
		rows.Scan(&f)
		follows[fmt.Sprintf("user%d", f)] = true
	}
	rows.Close()
	for i, it := range items {
		if it != want[i] {
			t.Fatalf("feed item %d = %+v, db %+v", i, it, want[i])
		}
		if !follows[it.Author] {
			t.Fatalf("feed of %d has a post by %s, whom they do not follow", user, it.Author)
		}
		if i > 0 && it.ID >= items[i-1].ID {
			t.Fatalf("feed not newest first: %d then %d", items[i-1].ID, it.ID)
		}
	}
}

// ctFollower returns one follower of user.
func ctFollower(t testing.TB, d *SQLData, user int) (int, []int) {
	t.Helper()
	fs, err := d.Followers(context.Background(), user)
	if err != nil || len(fs) == 0 {
		t.Fatalf("followers of %d: %v %v", user, fs, err)
	}
	return fs[0], fs
}

func TestAppNodeSQL(t *testing.T) {
	sys := ctSystem(t, 4)
	n, err := NewAppNode(sys, AppConfig{Name: "app-1", Size: "small", Work: DefaultWork(), Shape: DefaultShape(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for table, want := range map[string]int64{"users": 1000, "posts": 5000} {
		if got, err := n.Data.Count(ctx, table); err != nil || got != want {
			t.Fatalf("%s: %d rows (%v), want %d", table, got, err, want)
		}
	}
	if _, err := n.Data.Count(ctx, "users; DROP TABLE users"); err == nil {
		t.Fatal("Count accepted a table outside the schema")
	}
	if _, err := os.Stat(filepath.Join(sys.Dir, "app-1.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
	c := ctClient()
	code, body := ctDo(t, c, "GET", n.URL()+"/read?id=7", "", "")
	if id, name := ctUser(t, body); code != 200 || id != 7 || name != "user7" {
		t.Fatalf("/read?id=7: %d %q", code, body)
	}
	code, body = ctDo(t, c, "GET", n.URL()+"/feed?id=7", "", "")
	if code != 200 {
		t.Fatalf("/feed: %d %q", code, body)
	}
	ctCheckFeed(t, n.Data, 7, ctFeed(t, body))

	follower, _ := ctFollower(t, n.Data, 7)
	code, body = ctDo(t, c, "POST", n.URL()+"/write?user=7", "", "hello from a test")
	var posted struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &posted); code != 200 || err != nil || posted.ID != 5001 {
		t.Fatalf("/write: %d %q", code, body)
	}
	if got, _ := n.Data.Count(ctx, "posts"); got != 5001 {
		t.Fatalf("posts after a write: %d", got)
	}
	_, body = ctDo(t, c, "GET", n.URL()+"/feed?id="+fmt.Sprint(follower), "", "")
	feed := ctFeed(t, body)
	if len(feed) == 0 || feed[0] != (FeedItem{ID: 5001, Author: "user7", Body: "hello from a test"}) {
		t.Fatalf("follower %d's feed head %+v, want the new post", follower, feed[0])
	}
	// the generator's path for writes is /post?user=
	if code, _ := ctDo(t, c, "POST", n.URL()+"/post?user=8", "", "x"); code != 200 {
		t.Fatalf("/post: %d", code)
	}
	if code, body := ctDo(t, c, "GET", n.URL()+"/page", "", ""); code != 200 || !strings.Contains(body, "<html>") {
		t.Fatalf("/page: %d", code)
	}
	for _, bad := range []string{"/nope", "/read?id=abc", "/read"} {
		if code, _ := ctDo(t, c, "GET", n.URL()+bad, "", ""); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, code)
		}
	}
	if code, _ := ctDo(t, c, "GET", n.URL()+"/read?id=99999", "", ""); code != http.StatusInternalServerError {
		t.Errorf("read of a missing user: %d, want 500", code)
	}
	if s := n.Snap(); s.Detail == "" || s.Size != "small" || s.Role != RoleApp {
		t.Errorf("snap %+v", s)
	}
}

func TestDBNodeAndWebTier(t *testing.T) {
	sys := ctSystem(t, 4)
	db, err := NewDBNode(sys, DBConfig{Name: "db-1", Size: "small", Work: DefaultWork(), Shape: DefaultShape(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(db); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Data.Count(context.Background(), "users"); err != nil || got != 1000 {
		t.Fatalf("users: %d %v", got, err)
	}
	c := ctClient()
	if code, _ := ctDo(t, c, "GET", db.URL()+"/read?id=7", "", ""); code != http.StatusForbidden {
		t.Fatalf("db without the token: %d, want 403", code)
	}
	code, body := ctDo(t, c, "GET", db.URL()+"/read?id=7", sys.Token, "")
	if id, name := ctUser(t, body); code != 200 || id != 7 || name != "user7" {
		t.Fatalf("db /read: %d %q", code, body)
	}
	if code, _ := ctDo(t, c, "GET", db.URL()+"/nope", sys.Token, ""); code != http.StatusBadRequest {
		t.Fatalf("db /nope: %d, want 400", code)
	}

	link := sys.AddLink("web-1", "db-1")
	meter := NewMeter(sys.Clock)
	client := NewDBClient(sys, db, link, meter)
	web, err := NewWebNode(sys, WebConfig{Name: "web-1", Size: "small", Work: DefaultWork(), Private: false, Store: func() Store { return client }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(web); err != nil {
		t.Fatal(err)
	}
	// through the web tier: web -> link -> db
	_, body = ctDo(t, c, "GET", web.URL()+"/feed?id=7", "", "")
	ctCheckFeed(t, db.Data, 7, ctFeed(t, body))
	follower, _ := ctFollower(t, db.Data, 7)
	code, body = ctDo(t, c, "POST", web.URL()+"/post?user=7", "", "via the web tier")
	if code != 200 || body != `{"id":5001}` {
		t.Fatalf("write through web: %d %q", code, body)
	}
	_, body = ctDo(t, c, "GET", web.URL()+"/feed?id="+fmt.Sprint(follower), "", "")
	if f := ctFeed(t, body); f[0] != (FeedItem{ID: 5001, Author: "user7", Body: "via the web tier"}) {
		t.Fatalf("follower feed head %+v", f[0])
	}
	if q := meter.Quantiles(OpFeed); q.N != 2 {
		t.Errorf("meter counted %d feeds, want 2", q.N)
	}

	// latency on the link is spent for real on the lab clock
	link.SetLatency(100 * time.Millisecond)
	t0 := sys.Clock.Now()
	if code, _ := ctDo(t, c, "GET", web.URL()+"/read?id=1", "", ""); code != 200 {
		t.Fatalf("read with link latency: %d", code)
	}
	if d := sys.Clock.Now() - t0; d < 100*time.Millisecond {
		t.Errorf("read over a 100ms link took %v of lab time", d)
	}
	link.SetLatency(0)

	// the data tier dies: the web tier answers 502 and the meter counts it
	if err := db.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, body := ctDo(t, c, "GET", web.URL()+"/read?id=1", "", ""); code != http.StatusBadGateway || !strings.Contains(body, "data tier") {
		t.Fatalf("read with the db down: %d %q, want 502", code, body)
	}
	if meter.Failed(OpRead) != 1 {
		t.Errorf("meter failures = %d, want 1", meter.Failed(OpRead))
	}
}

func TestKVNodeStore(t *testing.T) {
	sys := ctSystem(t, 4)
	shape := DefaultShape()
	data, err := OpenSQL(filepath.Join(sys.Dir, "seed.db"), shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	sys.OnClose(data.Close)
	kv, err := NewKVNode(sys, "kv-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(kv); err != nil {
		t.Fatal(err)
	}
	meter := NewMeter(sys.Clock)
	store := NewKVStore(sys, kv, nil, meter, shape)
	ctx := context.Background()
	if err := store.LoadFrom(ctx, data); err != nil {
		t.Fatal(err)
	}

	got, err := store.Do(ctx, OpRead, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := data.User(ctx, 7)
	if string(got) != string(want) {
		t.Fatalf("kv user 7 = %s, sql = %s", got, want)
	}
	got, err = store.Do(ctx, OpFeed, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	ctCheckFeed(t, data, 7, ctFeed(t, string(got)))

	follower, followers := ctFollower(t, data, 7)
	got, err = store.Do(ctx, OpWrite, 7, "fan me out")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"id":1000001,"fanout":%d}`, len(followers)); string(got) != want {
		t.Fatalf("write = %s, want %s", got, want)
	}
	for _, f := range []int{follower, followers[len(followers)-1]} {
		got, err = store.Do(ctx, OpFeed, f, "")
		if err != nil {
			t.Fatal(err)
		}
		feed := ctFeed(t, string(got))
		if len(feed) != shape.FeedLen || feed[0] != (FeedItem{ID: 1000001, Author: "user7", Body: "fan me out"}) {
			t.Fatalf("follower %d's feed: %d items, head %+v", f, len(feed), feed[0])
		}
	}
	// the post bumps the user's own record too, as the SQL read sees it
	got, err = store.Do(ctx, OpRead, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	var before, after struct {
		Posts    int64 `json:"posts"`
		LastPost int64 `json:"last_post"`
	}
	if json.Unmarshal(want, &before) != nil || json.Unmarshal(got, &after) != nil || after.Posts != before.Posts+1 || after.LastPost != 1000001 {
		t.Fatalf("user 7 after a post = %s, before %s", got, want)
	}
	want = got
	if q := meter.Quantiles(OpFeed); q.N != 3 {
		t.Errorf("meter feeds = %d, want 3", q.N)
	}
	if s := kv.Snap(); s.Requests != 6 || s.State != StateUp || !strings.Contains(s.Detail, "keys") {
		t.Errorf("kv snap %+v", s)
	}

	// kill: commands fail; restart: back on the same port with the data
	addr := kv.Addr()
	if err := kv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := kv.Kill(); !errors.Is(err, ErrDown) {
		t.Fatalf("second Kill = %v, want ErrDown", err)
	}
	if _, err := store.Do(ctx, OpRead, 7, ""); err == nil {
		t.Fatal("read from a killed kv node succeeded")
	}
	if kv.Snap().Addr != "" {
		t.Error("a down node shows an address")
	}
	if err := kv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := kv.Restart(); !errors.Is(err, ErrNotDown) {
		t.Fatalf("Restart while restarting = %v, want ErrNotDown", err)
	}
	ctEventually(t, "kv back up", 5*time.Second, func() bool { return kv.State() == StateUp })
	if kv.Addr() != addr {
		t.Fatalf("kv restarted on %s, was %s", kv.Addr(), addr)
	}
	ctEventually(t, "kv answers again", 5*time.Second, func() bool {
		got, err := store.Do(ctx, OpRead, 7, "")
		return err == nil && string(got) == string(want)
	})
}

// Close stops every server, the load and the ticker, leaves no goroutine
// behind and removes the lab's directory.
func TestSystemCloseNoLeaks(t *testing.T) {
	build := func(shape DataShape) (*System, *http.Client) {
		sys, err := NewSystem(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Clock.SetSpeed(4); err != nil {
			t.Fatal(err)
		}
		db, err := NewDBNode(sys, DBConfig{Name: "db-1", Size: "small", Shape: shape, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		app, err := NewAppNode(sys, AppConfig{Name: "app-1", Size: "small", Shape: shape, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		kv, err := NewKVNode(sys, "kv-1")
		if err != nil {
			t.Fatal(err)
		}
		store := NewKVStore(sys, kv, nil, nil, shape)
		client := NewDBClient(sys, db, sys.AddLink("web-1", "db-1"), nil)
		web, err := NewWebNode(sys, WebConfig{Name: "web-1", Size: "small", Store: func() Store { return client }})
		if err != nil {
			t.Fatal(err)
		}
		plain := NewServer(ServerConfig{Name: "web-2", Role: RoleWeb, Boot: 50 * time.Millisecond}, sys.Clock, sys.Events, ctOK)
		for _, n := range []Node{db, app, kv, web, plain} {
			if err := sys.AddNode(n); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.LoadFrom(context.Background(), app.Data); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultLoadConfig()
		cfg.Entry = web.URL
		cfg.Mix = Mix{OpPage: 1, OpRead: 1, OpFeed: 1, OpWrite: 1}
		l, err := NewLoad(cfg, sys.Clock)
		if err != nil {
			t.Fatal(err)
		}
		sys.SetLoad(l)
		sys.Start()
		c := ctClient()
		ctDo(t, c, "GET", app.URL()+"/feed?id=3", "", "")
		if _, err := store.Do(context.Background(), OpFeed, 3, ""); err != nil {
			t.Fatal(err)
		}
		if err := plain.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := plain.Restart(); err != nil {
			t.Fatal(err)
		}
		snaps := sys.Subscribe()
		deadline := time.After(10 * time.Second)
		for { // run until the load has answered a few hundred requests
			select {
			case s := <-snaps:
				if s.Totals.OK >= 200 {
					return sys, c
				}
			case <-deadline:
				t.Fatalf("load made no progress: %+v", sys.Snapshot().Totals)
			}
		}
	}
	small := DataShape{Users: 50, PostsPerUser: 2, Follows: 3, FeedLen: 5}

	// warm up once, so lazily started runtime goroutines are in the baseline
	sys, _ := build(small)
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	sys, c := build(small)
	dir := sys.Dir
	during := runtime.NumGoroutine()
	if err := sys.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c.CloseIdleConnections()
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = runtime.NumGoroutine()
		if after <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d running, %d after Close:\n%s", before, during, after, buf[:runtime.Stack(buf, true)])
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("lab dir %s still there after Close: %v", dir, err)
	}
	t.Logf("goroutines: %d before, %d running, %d after Close", before, during, after)
}
