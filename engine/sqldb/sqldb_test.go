package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"scalelab/engine/internal/enginetest"
	"scalelab/engine/sqldb"
)

// Two nodes seeded from one template hold the same rows, and each is its
// own file: a write to one does not show in the other.
func TestOpenDataCopiesOneSeed(t *testing.T) {
	sys := enginetest.System(t, 1)
	ctx := context.Background()
	shape := sqldb.DataShape{Users: 50, PostsPerUser: 2, Follows: 3, FeedLen: 5}
	seedings := sqldb.Seedings()
	a, err := sqldb.OpenData(sys, "a", shape, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sqldb.OpenData(sys, "b", shape, 7)
	if err != nil {
		t.Fatal(err)
	}
	fa, err := a.Feed(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Feed(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(fa) != string(fb) || len(fa) < 10 {
		t.Fatalf("the copies differ: %s vs %s", fa, fb)
	}
	if _, err := a.Post(ctx, 3, "only in a"); err != nil {
		t.Fatal(err)
	}
	ua, _ := a.User(ctx, 3)
	ub, _ := b.User(ctx, 3)
	if string(ua) == string(ub) {
		t.Fatalf("a post to a shows in b: %s", ub)
	}
	// another lab of the process starts from the same seed, seeded once
	other := enginetest.System(t, 1)
	if _, err := sqldb.OpenData(other, "c", shape, 7); err != nil {
		t.Fatal(err)
	}
	if n := sqldb.Seedings() - seedings; n != 1 {
		t.Fatalf("want one seeding for one shape and seed in two labs, got %d", n)
	}
	if seeds, _ := filepath.Glob(filepath.Join(sys.Dir, "seed-*.db")); len(seeds) != 0 {
		t.Fatalf("the seeded file should not outlive its seeding: %v", seeds)
	}
}

// Prepared statements follow the handle: after a re-seed replaces the
// database, queries run on the new file.
func TestStatementsFollowAReseed(t *testing.T) {
	sys := enginetest.System(t, 1)
	ctx := context.Background()
	shape := sqldb.DataShape{Users: 20, PostsPerUser: 1, Follows: 2, FeedLen: 5}
	a, err := sqldb.OpenData(sys, "a", shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sqldb.OpenData(sys, "b", shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := b.User(ctx, 4) // prepares on b's first handle
	if _, err := a.Post(ctx, 4, "new"); err != nil {
		t.Fatal(err)
	}
	if err := b.ReplaceFrom(ctx, a); err != nil {
		t.Fatal(err)
	}
	after, err := b.User(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.User(ctx, 4)
	if string(after) != string(want) || string(after) == string(before) {
		t.Fatalf("after the re-seed b reads %s; a holds %s (before: %s)", after, want, before)
	}
	if _, err := os.Stat(filepath.Join(sys.Dir, "b.db")); err != nil {
		t.Fatal(err)
	}
}
