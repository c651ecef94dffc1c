package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"strings"
	"testing"
)

// Do sends one request; token, when set, goes in HeaderVia.
func Do(t testing.TB, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(engine.HeaderVia, token)
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

func User(t testing.TB, body string) (id int, name string) {
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

func Feed(t testing.TB, body string) []sqldb.FeedItem {
	t.Helper()
	var items []sqldb.FeedItem
	if err := json.Unmarshal([]byte(body), &items); err != nil {
		t.Fatalf("feed JSON %q: %v", body, err)
	}
	return items
}

// CheckFeed checks a user's feed against the database: FeedLen posts,
// newest first, each by an account the user follows.
func CheckFeed(t testing.TB, d *sqldb.SQLData, user int, items []sqldb.FeedItem) {
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

// Follower returns one follower of user.
func Follower(t testing.TB, d *sqldb.SQLData, user int) (int, []int) {
	t.Helper()
	fs, err := d.Followers(context.Background(), user)
	if err != nil || len(fs) == 0 {
		t.Fatalf("followers of %d: %v %v", user, fs, err)
	}
	return fs[0], fs
}
