package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"strings"
	"testing"
	"time"
)

func TestKVNodeStore(t *testing.T) {
	sys := enginetest.System(t, 4)
	shape := sqldb.DefaultShape()
	data, err := sqldb.OpenSQL(filepath.Join(sys.Dir, "seed.db"), shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	sys.OnClose(data.Close)
	kvNode, err := kv.NewKVNode(sys, "kv-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(kvNode); err != nil {
		t.Fatal(err)
	}
	meter := engine.NewMeter(sys.Clock)
	store := kv.NewKVStore(sys, kvNode, nil, meter, shape)
	ctx := context.Background()
	if err := store.LoadFrom(ctx, data); err != nil {
		t.Fatal(err)
	}

	got, err := store.Do(ctx, engine.OpRead, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := data.User(ctx, 7)
	if string(got) != string(want) {
		t.Fatalf("kv user 7 = %s, sql = %s", got, want)
	}
	got, err = store.Do(ctx, engine.OpFeed, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	enginetest.CheckFeed(t, data, 7, enginetest.Feed(t, string(got)))

	follower, followers := enginetest.Follower(t, data, 7)
	got, err = store.Do(ctx, engine.OpWrite, 7, "fan me out")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"id":1000001,"fanout":%d}`, len(followers)); string(got) != want {
		t.Fatalf("write = %s, want %s", got, want)
	}
	for _, f := range []int{follower, followers[len(followers)-1]} {
		got, err = store.Do(ctx, engine.OpFeed, f, "")
		if err != nil {
			t.Fatal(err)
		}
		feed := enginetest.Feed(t, string(got))
		if len(feed) != shape.FeedLen || feed[0] != (sqldb.FeedItem{ID: 1000001, Author: "user7", Body: "fan me out"}) {
			t.Fatalf("follower %d's feed: %d items, head %+v", f, len(feed), feed[0])
		}
	}
	// the post bumps the user's own record too, as the SQL read sees it
	got, err = store.Do(ctx, engine.OpRead, 7, "")
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
	if q := meter.Quantiles(engine.OpFeed); q.N != 3 {
		t.Errorf("meter feeds = %d, want 3", q.N)
	}
	if s := kvNode.Snap(); s.Requests != 6 || s.State != engine.StateUp || !strings.Contains(s.Detail.String(), "keys") {
		t.Errorf("kv snap %+v", s)
	}

	// kill: commands fail; restart: back on the same port with the data
	addr := kvNode.Addr()
	if err := kvNode.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := kvNode.Kill(); !errors.Is(err, engine.ErrDown) {
		t.Fatalf("second Kill = %v, want ErrDown", err)
	}
	if _, err := store.Do(ctx, engine.OpRead, 7, ""); err == nil {
		t.Fatal("read from a killed kv node succeeded")
	}
	if kvNode.Snap().Addr != "" {
		t.Error("a down node shows an address")
	}
	if err := kvNode.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := kvNode.Restart(); !errors.Is(err, engine.ErrNotDown) {
		t.Fatalf("Restart while restarting = %v, want ErrNotDown", err)
	}
	enginetest.Eventually(t, "kv back up", 5*time.Second, func() bool { return kvNode.State() == engine.StateUp })
	if kvNode.Addr() != addr {
		t.Fatalf("kv restarted on %s, was %s", kvNode.Addr(), addr)
	}
	enginetest.Eventually(t, "kv answers again", 5*time.Second, func() bool {
		got, err := store.Do(ctx, engine.OpRead, 7, "")
		return err == nil && string(got) == string(want)
	})
}

// Close stops every server, the load and the ticker, leaves no goroutine
// behind and removes the lab's directory.
