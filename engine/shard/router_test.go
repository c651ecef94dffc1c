package shard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
)

// postsHeld reads every post on a shard: id → user.
func postsHeld(t testing.TB, s *Shard) map[int64]int {
	t.Helper()
	rows, err := s.Data().DB().Query("SELECT id, user_id FROM posts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var u int
		if err := rows.Scan(&id, &u); err != nil {
			t.Fatal(err)
		}
		out[id] = u
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countRows counts a shard's rows in every table.
func countRows(t testing.TB, s *Shard) int64 {
	t.Helper()
	var total int64
	for _, tb := range tables {
		var n int64
		if err := s.Data().DB().QueryRow("SELECT count(*) FROM " + tb.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// hasUser reports whether a shard holds a user's row.
func hasUser(t testing.TB, s *Shard, u int64) bool {
	t.Helper()
	var n int
	if err := s.Data().DB().QueryRow("SELECT count(*) FROM users WHERE id = ?", u).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// booked is how many calls to a shard the router has booked as answered.
func booked(r *Router, s *Shard) int64 {
	ok, _, _ := r.Book().Totals(s.Name())
	return ok
}

// shardIndex is s's place in the router's shards.
func shardIndex(r *Router, s *Shard) int { return slices.Index(r.Shards(), s) }

// usersOn returns up to n users 1..max owned by shard index i, or not
// owned by it when not is set.
func usersOn(r *Router, i, max, n int, not bool) []int {
	var out []int
	m := r.Map()
	for u := 1; u <= max && len(out) < n; u++ {
		if (m.Owner(u) == i) != not {
			out = append(out, u)
		}
	}
	return out
}

func TestEachQueryGoesToTheShardOwningItsUser(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	shards := r.Shards()
	if len(shards) != 4 {
		t.Fatalf("%d shards", len(shards))
	}
	// the seed is split by owner, and each shard's row count is right
	var total int64
	for i, s := range shards {
		if got := countRows(t, s); got != s.Rows() {
			t.Errorf("%s: Rows() says %d, the tables hold %d", s.Name(), s.Rows(), got)
		}
		total += s.Rows()
		for id, u := range postsHeld(t, s) {
			if o := r.Map().Owner(u); o != i {
				t.Fatalf("seed post %d of user %d is on %s, owner %s", id, u, s.Name(), shards[o].Name())
			}
		}
	}
	if want := int64(smallShape().Rows()); total != want {
		t.Errorf("the shards hold %d rows, the seed has %d", total, want)
	}
	for u := 1; u <= 24; u++ {
		own := r.Owner(u)
		before := make([]int64, len(shards))
		for i, s := range shards {
			before[i] = booked(r, s)
		}
		served := own.Served()
		id, err := r.Post(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if id <= int64(smallShape().SeedPosts()) {
			t.Errorf("post id %d is not past the seed's %d", id, smallShape().SeedPosts())
		}
		for i, s := range shards {
			want := before[i]
			if s == own {
				want++
			}
			if got := booked(r, s); got != want {
				t.Errorf("post by user %d (owner %s): %s was called %d times, want %d", u, own.Name(), s.Name(), got-before[i], want-before[i])
			}
			if held := postsHeld(t, s)[id] != 0; held != (s == own) {
				t.Errorf("post %d by user %d: on %s is %v", id, u, s.Name(), held)
			}
		}
		if own.Served() != served+1 {
			t.Errorf("%s served %d requests for one post", own.Name(), own.Served()-served)
		}
		posts, err := r.Posts(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if len(posts) == 0 || posts[0].ID != id || posts[0].User != int64(u) {
			t.Errorf("user %d's posts start %v, want the new post %d first", u, posts[:min(len(posts), 1)], id)
		}
	}
	// a sign-up takes the next id, on its owner only
	u, err := r.Signup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u != int64(smallShape().Users+1) {
		t.Errorf("sign-up got user %d, want %d", u, smallShape().Users+1)
	}
	for _, s := range shards {
		if hasUser(t, s, u) != (s == r.Owner(int(u))) {
			t.Errorf("new user %d on %s: %v; owner %s", u, s.Name(), hasUser(t, s, u), r.Owner(int(u)).Name())
		}
	}
	// a scatter-gather feed has the newest posts of the user's followees:
	// one of them posts, and it is first
	var followees []int64
	if err := r.get(ctx, r.Owner(1), "/follows?user=1", &followees); err != nil || len(followees) != smallShape().Follows {
		t.Fatalf("user 1 follows %v (%v), want %d accounts", followees, err, smallShape().Follows)
	}
	id, err := r.Post(ctx, int(followees[0]))
	if err != nil {
		t.Fatal(err)
	}
	feed, err := r.FeedOf(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// the feed is the newest feedLen posts by the followees, on every shard
	var want []int64
	for _, s := range shards {
		for pid, author := range postsHeld(t, s) {
			if slices.Contains(followees, int64(author)) {
				want = append(want, pid)
			}
		}
	}
	slices.Sort(want)
	slices.Reverse(want)
	want = want[:min(len(want), feedLen)]
	got := make([]int64, len(feed))
	for i, p := range feed {
		got[i] = p.ID
	}
	if !slices.Equal(got, want) || got[0] != id {
		t.Errorf("user 1's feed is posts %v, want %v (newest, %d, first)", got, want, id)
	}
}

func TestRouterServesHTTP(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	c := enginetest.Client()
	do := func(method, path string, out any) int {
		t.Helper()
		req, err := http.NewRequest(method, r.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v in %q", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	var id int64
	if code := do(http.MethodPost, "/post?user=5", &id); code != http.StatusOK || id == 0 {
		t.Fatalf("POST /post: %d, id %d", code, id)
	}
	var posts []Post
	if code := do(http.MethodGet, "/posts?user=5", &posts); code != http.StatusOK || len(posts) == 0 || posts[0].ID != id {
		t.Errorf("GET /posts: %d, %v; want post %d first", code, posts, id)
	}
	var feed []Post
	if code := do(http.MethodGet, "/feed?user=5", &feed); code != http.StatusOK || len(feed) == 0 {
		t.Errorf("GET /feed: %d, %d posts", code, len(feed))
	}
	var u int64
	if code := do(http.MethodPost, "/signup", &u); code != http.StatusOK || u != int64(smallShape().Users+1) {
		t.Errorf("POST /signup: %d, user %d", code, u)
	}
	if code := do(http.MethodGet, "/posts?user=x", nil); code != http.StatusBadRequest {
		t.Errorf("GET /posts?user=x: %d, want 400", code)
	}
	if code := do(http.MethodGet, "/nope?user=1", nil); code != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404", code)
	}
	// the shards are private: only the router reaches them
	resp, err := c.Get(r.Shards()[0].URL() + "/posts?user=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a shard answered a request without the token: %d", resp.StatusCode)
	}
}

func TestAKilledShardFailsOnlyTheKeysItOwns(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	dead := r.Shards()[1]
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	its, others := usersOn(r, 1, 200, 10, false), usersOn(r, 1, 200, 30, true)
	for _, u := range others {
		if _, err := r.Post(ctx, u); err != nil {
			t.Errorf("user %d on %s: post failed while %s is down: %v", u, r.Owner(u).Name(), dead.Name(), err)
		}
		if _, err := r.Posts(ctx, u); err != nil {
			t.Errorf("user %d on %s: read failed while %s is down: %v", u, r.Owner(u).Name(), dead.Name(), err)
		}
	}
	for _, u := range its {
		if _, err := r.Post(ctx, u); err == nil {
			t.Errorf("user %d's post succeeded with their shard %s down", u, dead.Name())
		}
	}
	if err := dead.Restart(); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, dead.Name()+" back up", within, func() bool { return dead.State() == engine.StateUp })
	// the first call after the restart may meet a connection the crash
	// closed; then every post succeeds
	enginetest.Eventually(t, "a post on "+dead.Name(), within, func() bool {
		_, err := r.Post(ctx, its[0])
		return err == nil
	})
	for _, u := range its {
		id, err := r.Post(ctx, u)
		if err != nil {
			t.Errorf("user %d: post failed after %s's restart: %v", u, dead.Name(), err)
			continue
		}
		if postsHeld(t, dead)[id] != u {
			t.Errorf("post %d by user %d is not on %s", id, u, dead.Name())
		}
	}
}
