package shard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// schema is every shard's: users, their posts, whom they follow, who
// follows them (the reverse index a fan-out reads) and their timelines
// (the denormalised feed). Each table's first column is the shard key.
const schema = `
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
CREATE TABLE posts(user_id INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(user_id, id));
CREATE TABLE follows(follower INTEGER NOT NULL, followee INTEGER NOT NULL, PRIMARY KEY(follower, followee));
CREATE TABLE followers(followee INTEGER NOT NULL, follower INTEGER NOT NULL, PRIMARY KEY(followee, follower));
CREATE TABLE timeline(owner INTEGER NOT NULL, post_id INTEGER NOT NULL, author INTEGER NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(owner, post_id));
`

// table is one table's shape for the mover: its name, columns, and the
// column holding the shard key (the first).
type table struct {
	name string
	cols []string
}

var tables = []table{
	{"users", []string{"id", "name", "country"}},
	{"posts", []string{"user_id", "id", "body", "created"}},
	{"follows", []string{"follower", "followee"}},
	{"followers", []string{"followee", "follower"}},
	{"timeline", []string{"owner", "post_id", "author", "created"}},
}

// Shape is the seed data: users, posts each, accounts each follows.
type Shape struct {
	Users        int
	PostsPerUser int
	Follows      int
}

// DefaultShape is 2,000 users with 5 posts each, each following 10 others.
func DefaultShape() Shape { return Shape{Users: 2000, PostsPerUser: 5, Follows: 10} }

// Rows is how many rows the seed data has in all.
func (s Shape) Rows() int { return s.Users * (1 + s.PostsPerUser + 2*s.Follows) }

// SeedPosts is how many posts the seed data has: new posts' ids follow.
func (s Shape) SeedPosts() int { return s.Users * s.PostsPerUser }

// row is one row of a table, its shard key first.
type row struct {
	t    int // index in tables
	vals []any
}

func (r row) key() int { return int(r.vals[0].(int64)) }

// seedRows makes the seed data, the same for a seed.
func seedRows(shape Shape, seed int64) []row {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5a4d))
	var out []row
	for u := 1; u <= shape.Users; u++ {
		out = append(out, row{0, []any{int64(u), fmt.Sprintf("user %d", u), CountryOf(u)}})
	}
	id := int64(0)
	for u := 1; u <= shape.Users; u++ {
		for p := 0; p < shape.PostsPerUser; p++ {
			id++
			out = append(out, row{1, []any{int64(u), id, fmt.Sprintf("post %d by %d", id, u), int64(p)}})
		}
	}
	for u := 1; u <= shape.Users; u++ {
		seen := map[int]bool{u: true}
		for len(seen) <= min(shape.Follows, shape.Users-1) {
			f := 1 + rng.IntN(shape.Users)
			if seen[f] {
				continue
			}
			seen[f] = true
			out = append(out, row{2, []any{int64(u), int64(f)}}, row{3, []any{int64(f), int64(u)}})
		}
	}
	return out
}

// openShard creates an empty shard file with the schema.
// A name used before (a shard removed, then added again) gets a new file.
func openShard(sys *engine.System, name string) (*sqldb.SQLData, error) {
	d, err := sqldb.OpenSQLFile(freshPath(sys.Dir, name), sqldb.DataShape{})
	if err != nil {
		return nil, err
	}
	if _, err := d.DB().Exec(schema); err != nil {
		d.Close()
		return nil, fmt.Errorf("%s: schema: %w", name, err)
	}
	sys.OnClose(d.Close)
	return d, nil
}

// chunks is how many rows (or keys) one statement carries, largest first:
// a write of many rows (the mover's, the seed) goes in multi-row statements
// of these sizes, so that parsing, a driver call and a watch on the context
// are paid per statement, not per row, and each size is prepared once.
var chunks = []int{128, 64, 32, 16, 8, 4, 2, 1}

// chunkOf is the index in chunks of the largest size at most n (n ≥ 1).
func chunkOf(n int) int {
	for i, c := range chunks {
		if c <= n {
			return i
		}
	}
	return len(chunks) - 1
}

// insertSQL is each table's idempotent insert of each chunk's size of
// rows: a row copied twice (by the mover and by a dual write) is there
// once. deleteSQL deletes each chunk's size of keys' rows.
var insertSQL, deleteSQL = func() (ins, del [][]string) {
	ins, del = make([][]string, len(tables)), make([][]string, len(tables))
	for i, tb := range tables {
		for _, c := range chunks {
			ins[i] = append(ins[i], insertOf(tb, c))
			del[i] = append(del[i], "DELETE FROM "+tb.name+" WHERE "+tb.cols[0]+" IN (?"+strings.Repeat(",?", c-1)+")")
		}
	}
	return ins, del
}()

func insertOf(tb table, rows int) string {
	one := "(?" + strings.Repeat(",?", len(tb.cols)-1) + ")"
	return "INSERT OR IGNORE INTO " + tb.name + "(" + strings.Join(tb.cols, ",") + ") VALUES " +
		one + strings.Repeat(","+one, rows-1)
}

// insertRows writes rows in one transaction and returns how many were new.
func insertRows(ctx context.Context, d *sqldb.SQLData, rows []row) (int64, error) {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, err := insertIn(ctx, tx, rows)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// insertIn inserts rows in a transaction, table by table in multi-row
// statements, and returns how many were new.
func insertIn(ctx context.Context, tx *sqldb.Tx, rows []row) (int64, error) {
	byTable := make([][]row, len(tables))
	for _, r := range rows {
		byTable[r.t] = append(byTable[r.t], r)
	}
	var added int64
	var args []any
	for t, rs := range byTable {
		for len(rs) > 0 {
			c := chunkOf(len(rs))
			args = args[:0]
			for _, r := range rs[:chunks[c]] {
				args = append(args, r.vals...)
			}
			res, err := tx.ExecContext(ctx, insertSQL[t][c], args...)
			if err != nil {
				return 0, err
			}
			n, _ := res.RowsAffected()
			added += n
			rs = rs[chunks[c]:]
		}
	}
	return added, nil
}

// deleteIn deletes every row of the keys in a transaction and returns how
// many rows went.
func deleteIn(ctx context.Context, tx *sqldb.Tx, keys []int) (int64, error) {
	var deleted int64
	args := make([]any, 0, chunks[0])
	for t := range tables {
		for ks := keys; len(ks) > 0; {
			c := chunkOf(len(ks))
			args = args[:0]
			for _, k := range ks[:chunks[c]] {
				args = append(args, k)
			}
			res, err := tx.ExecContext(ctx, deleteSQL[t][c], args...)
			if err != nil {
				return 0, err
			}
			n, _ := res.RowsAffected()
			deleted += n
			ks = ks[chunks[c]:]
		}
	}
	return deleted, nil
}

// freshPath is a database file for a node under dir that no node has used:
// name.db, or name.2.db and on when a node of that name was removed.
func freshPath(dir, name string) string {
	path := filepath.Join(dir, name+".db")
	for i := 2; ; i++ {
		if _, err := os.Stat(path); err != nil {
			return path
		}
		path = filepath.Join(dir, name+"."+strconv.Itoa(i)+".db")
	}
}
