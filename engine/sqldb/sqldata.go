package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // driver "sqlite" and its backup API
)

// DataShape says how much seed data a database gets.
type DataShape struct {
	Users        int // also the number of keys the load touches
	PostsPerUser int
	Follows      int // accounts each user follows
	FeedLen      int // posts in a feed read
}

// DefaultShape is a small social network: 1,000 users, 5 posts each, each
// following 10 others.
func DefaultShape() DataShape {
	return DataShape{Users: 1000, PostsPerUser: 5, Follows: 10, FeedLen: 20}
}

// SQLData is a SQLite database with the lab's schema: users, posts and
// follows. It is a real database file under the lab's temp directory.
type SQLData struct {
	db    atomic.Pointer[sql.DB] // replaced whole when a replica is re-seeded
	stmts stmts
	path  string
	shape DataShape
}

const schema = `
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT NOT NULL);
CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX posts_user ON posts(user_id, id);
CREATE TABLE follows(follower INTEGER NOT NULL, followee INTEGER NOT NULL, PRIMARY KEY(follower, followee));
CREATE INDEX follows_followee ON follows(followee, follower);
`

// OpenSQL creates a database file at path with the schema and seed data.
func OpenSQL(path string, shape DataShape, seed int64) (*SQLData, error) {
	d, err := OpenSQLFile(path, shape)
	if err != nil {
		return nil, err
	}
	if err := d.seed(seed); err != nil {
		d.Close()
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	return d, nil
}

// OpenSQLFile opens a database file as it is (a copy made by BackupTo).
func OpenSQLFile(path string, shape DataShape) (*SQLData, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	d := &SQLData{path: path, shape: shape}
	d.db.Store(db)
	return d, nil
}

func openDB(path string) (*sql.DB, error) {
	dsn := "file:" + url.PathEscape(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	return db, nil
}

// BackupTo copies the whole database, consistently, into a new file at
// path through SQLite's online backup API, while it keeps serving.
func (d *SQLData) BackupTo(ctx context.Context, path string) error {
	conn, err := d.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		b, ok := driverConn.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return errors.New("the sqlite driver has no backup API")
		}
		bk, err := b.NewBackup(path)
		if err != nil {
			return err
		}
		for more := true; more; {
			if more, err = bk.Step(-1); err != nil {
				bk.Finish()
				return err
			}
		}
		return bk.Finish()
	})
}

// ReplaceFrom makes this database a fresh copy of src: the file is
// replaced by a backup of src and reopened. Nothing may be writing to this
// database meanwhile (a replica re-seeds while it boots).
func (d *SQLData) ReplaceFrom(ctx context.Context, src *SQLData) error {
	tmp := d.path + ".seed"
	os.Remove(tmp)
	if err := src.BackupTo(ctx, tmp); err != nil {
		return fmt.Errorf("copy of %s: %w", src.path, err)
	}
	old := d.DB()
	if err := old.Close(); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(d.path + suffix)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return err
	}
	db, err := openDB(d.path)
	if err != nil {
		return err
	}
	d.db.Store(db)
	return nil
}

func (d *SQLData) seed(seed int64) error {
	ctx := context.Background()
	if _, err := d.DB().ExecContext(ctx, schema); err != nil {
		return err
	}
	tx, err := d.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rng := rand.New(rand.NewPCG(uint64(seed), 42))
	sh := d.shape
	// users and posts in one statement each: SQLite loops natively
	if _, err := tx.ExecContext(ctx, `INSERT INTO users(id, name, bio)
		WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < ?)
		SELECT i, 'user' || i, 'likes systems that scale' FROM c`, sh.Users-1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO posts(user_id, body, created)
		WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < ?1)
		SELECT i % ?2, 'post ' || i || ' by user' || (i % ?2), i FROM c`, sh.Users*sh.PostsPerUser-1, sh.Users); err != nil {
		return err
	}
	// follows are random, sent in batches of rows
	const batch = 400
	var sb strings.Builder
	args := make([]any, 0, 2*batch)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO follows(follower, followee) VALUES "+sb.String(), args...)
		sb.Reset()
		args = args[:0]
		return err
	}
	for u := 0; u < sh.Users; u++ {
		for j := 0; j < sh.Follows; j++ {
			f := rng.IntN(sh.Users)
			if f == u {
				continue
			}
			if len(args) > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?)")
			args = append(args, u, f)
			if len(args) >= 2*batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return tx.Commit()
}

// DB exposes the database handle (for backups and inspection).
func (d *SQLData) DB() *sql.DB { return d.db.Load() }

// Shape is the seed shape.
func (d *SQLData) Shape() DataShape { return d.shape }

// User reads one user by primary key with their post count and newest
// post: a point read whose answer changes when the user posts.
func (d *SQLData) User(ctx context.Context, id int) ([]byte, error) {
	var name, bio string
	var posts, last int64
	err := d.QueryRowScan(ctx, `SELECT name, bio,
		(SELECT COUNT(*) FROM posts WHERE user_id = ?1),
		(SELECT COALESCE(MAX(id), 0) FROM posts WHERE user_id = ?1)
		FROM users WHERE id = ?1`, []any{id}, &name, &bio, &posts, &last)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": id, "name": name, "bio": bio, "posts": posts, "last_post": last})
}

// FeedItem is one post in a feed, with its author's name joined in.
type FeedItem struct {
	ID     int64  `json:"id"`
	Author string `json:"author"`
	Body   string `json:"body"`
}

// FeedItems reads the newest posts of the accounts a user follows: a join
// of follows, posts and users.
func (d *SQLData) FeedItems(ctx context.Context, id int) ([]FeedItem, error) {
	rows, err := d.QueryContext(ctx, `SELECT p.id, u.name, p.body
		FROM follows f JOIN posts p ON p.user_id = f.followee JOIN users u ON u.id = p.user_id
		WHERE f.follower = ? ORDER BY p.id DESC LIMIT ?`, id, d.shape.FeedLen)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []FeedItem
	for rows.Next() {
		var it FeedItem
		if err := rows.Scan(&it.ID, &it.Author, &it.Body); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// Feed is FeedItems as JSON.
func (d *SQLData) Feed(ctx context.Context, id int) ([]byte, error) {
	items, err := d.FeedItems(ctx, id)
	if err != nil {
		return nil, err
	}
	return json.Marshal(items)
}

// Post inserts a post and returns its id.
func (d *SQLData) Post(ctx context.Context, user int, body string) (int64, error) {
	res, err := d.ExecContext(ctx, "INSERT INTO posts(user_id, body, created) VALUES(?, ?, ?)", user, body, time.Now().UnixNano())
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// Followers lists who follows a user.
func (d *SQLData) Followers(ctx context.Context, user int) ([]int, error) {
	rows, err := d.QueryContext(ctx, "SELECT follower FROM follows WHERE followee = ?", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var f int
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Close closes the database.
func (d *SQLData) Close() error { return d.DB().Close() }
