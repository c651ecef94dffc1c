// KVStore: the lab's data denormalised in Redis, the key-value side of
// chapter 1's SQL-vs-KV comparison.

package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// KVStore keeps the lab's data denormalised in Redis: a user is one key,
// and each user's feed is a list of posts with the author's name already in
// them, so a feed read is one LRANGE and no join. The price is paid at
// write time: a post is pushed into the feed of every follower.
type KVStore struct {
	node  *KVNode
	link  *engine.Link
	rdb   *redis.Client
	meter *engine.Meter
	shape sqldb.DataShape
}

// NewKVStore connects to a KV node. meter may be nil.
func NewKVStore(sys *engine.System, node *KVNode, link *engine.Link, meter *engine.Meter, shape sqldb.DataShape) *KVStore {
	rdb := redis.NewClient(&redis.Options{
		Addr: node.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond, DialerRetries: 1,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 64,
	})
	sys.OnClose(rdb.Close)
	return &KVStore{node: node, link: link, rdb: rdb, meter: meter, shape: shape}
}

// LoadFrom copies a SQL database into the store, denormalised: users,
// follower sets, and every user's feed pre-joined. It reads each table once
// and builds the feeds in memory, so a lab starts in well under a second.
func (k *KVStore) LoadFrom(ctx context.Context, d *sqldb.SQLData) error {
	db := d.DB()
	type user struct{ name, bio string }
	users := map[int]user{}
	rows, err := db.QueryContext(ctx, "SELECT id, name, bio FROM users")
	if err != nil {
		return err
	}
	names := map[int]string{}
	for rows.Next() {
		var id int
		var name, bio string
		if err := rows.Scan(&id, &name, &bio); err != nil {
			rows.Close()
			return err
		}
		names[id] = name
		users[id] = user{name, bio}
	}
	rows.Close()
	followees := map[int][]int{}
	followers := map[int][]any{}
	rows, err = db.QueryContext(ctx, "SELECT follower, followee FROM follows")
	if err != nil {
		return err
	}
	for rows.Next() {
		var a, b int
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return err
		}
		followees[a] = append(followees[a], b)
		followers[b] = append(followers[b], a)
	}
	rows.Close()
	// each author's posts, newest first
	posts := map[int][]sqldb.FeedItem{}
	rows, err = db.QueryContext(ctx, "SELECT id, user_id, body FROM posts ORDER BY id DESC")
	if err != nil {
		return err
	}
	for rows.Next() {
		var it sqldb.FeedItem
		var uid int
		if err := rows.Scan(&it.ID, &uid, &it.Body); err != nil {
			rows.Close()
			return err
		}
		it.Author = names[uid]
		posts[uid] = append(posts[uid], it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	pipe := k.rdb.Pipeline()
	for u := 0; u < k.shape.Users; u++ {
		id := strconv.Itoa(u)
		// a user is a hash, so a post can bump its counters in place
		var last int64
		if p := posts[u]; len(p) > 0 {
			last = p[0].ID
		}
		pipe.HSet(ctx, "user:"+id, "name", users[u].name, "bio", users[u].bio, "posts", len(posts[u]), "last_post", last)
		if fs := followers[u]; len(fs) > 0 {
			pipe.SAdd(ctx, "followers:"+id, fs...)
		}
		if feed := newestOf(followees[u], posts, k.shape.FeedLen); len(feed) > 0 {
			pipe.RPush(ctx, "feed:"+id, feed...)
		}
		if pipe.Len() > 3000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	pipe.Set(ctx, "post:seq", 1_000_000, 0)
	_, err = pipe.Exec(ctx)
	return err
}

// newestOf merges the authors' posts (each newest first) and returns the n
// newest as JSON, the same rows the SQL feed join returns.
func newestOf(authors []int, posts map[int][]sqldb.FeedItem, n int) []any {
	var all []sqldb.FeedItem
	for _, a := range authors {
		all = append(all, posts[a]...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	if len(all) > n {
		all = all[:n]
	}
	out := make([]any, len(all))
	for i, it := range all {
		out[i], _ = json.Marshal(it)
	}
	return out
}

// Do runs one data op against Redis.
func (k *KVStore) Do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	start := k.node.Clock().Now()
	out, err := k.do(ctx, op, key, body)
	d := k.node.Clock().Now() - start
	k.node.Record(d, err)
	if k.meter != nil {
		k.meter.Record(op, d, err)
	}
	return out, err
}

func (k *KVStore) do(ctx context.Context, op engine.Op, key int, body string) ([]byte, error) {
	if k.link != nil {
		if err := k.link.Delay(ctx); err != nil {
			return nil, err
		}
	}
	if err := k.node.Delay(ctx); err != nil {
		return nil, err
	}
	id := strconv.Itoa(key)
	switch op {
	case engine.OpRead:
		h, err := k.rdb.HGetAll(ctx, "user:"+id).Result()
		if err != nil {
			return nil, err
		}
		if len(h) == 0 {
			return nil, redis.Nil
		}
		posts, _ := strconv.ParseInt(h["posts"], 10, 64)
		last, _ := strconv.ParseInt(h["last_post"], 10, 64)
		return json.Marshal(map[string]any{"id": key, "name": h["name"], "bio": h["bio"], "posts": posts, "last_post": last})
	case engine.OpFeed:
		items, err := k.rdb.LRange(ctx, "feed:"+id, 0, int64(k.shape.FeedLen-1)).Result()
		if err != nil {
			return nil, err
		}
		return []byte("[" + joinRaw(items) + "]"), nil
	case engine.OpWrite:
		seq, err := k.rdb.Incr(ctx, "post:seq").Result()
		if err != nil {
			return nil, err
		}
		followers, err := k.rdb.SMembers(ctx, "followers:"+id).Result()
		if err != nil {
			return nil, err
		}
		item, _ := json.Marshal(sqldb.FeedItem{ID: seq, Author: "user" + id, Body: body})
		pipe := k.rdb.Pipeline()
		pipe.HIncrBy(ctx, "user:"+id, "posts", 1)
		pipe.HSet(ctx, "user:"+id, "last_post", seq)
		for _, f := range followers { // fan-out on write: no joins at read time
			pipe.LPush(ctx, "feed:"+f, item)
			pipe.LTrim(ctx, "feed:"+f, 0, int64(k.shape.FeedLen-1))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf(`{"id":%d,"fanout":%d}`, seq, len(followers))), nil
	}
	return nil, engine.ErrBadOp
}

func joinRaw(items []string) string {
	n := 0
	for _, s := range items {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return string(b)
}
