package shard

import "sync"

// ledger is the router's record of every write it acknowledged, and the
// seed: what a check after a move expects to find.
type ledger struct {
	mu      sync.Mutex
	shape   Shape
	posts   map[int64]int // acknowledged post id → its user
	signups []int
	// counts is the seed's follows and followers index, rows per (table,
	// key): nothing writes them after the seed
	counts map[[2]int]int64
}

func (l *ledger) init(shape Shape, seed []row) {
	l.shape, l.posts, l.counts = shape, map[int64]int{}, map[[2]int]int64{}
	for _, r := range seed {
		if r.t == 2 || r.t == 3 {
			l.counts[[2]int{r.t, r.key()}]++
		}
	}
}

// seededCounts is the rows per (table, key) of the tables only the seed
// writes.
func (l *ledger) seededCounts() map[[2]int]int64 { return l.counts }

func (l *ledger) post(user int, id int64) {
	l.mu.Lock()
	l.posts[id] = user
	l.mu.Unlock()
}

func (l *ledger) signup(user int) {
	l.mu.Lock()
	l.signups = append(l.signups, user)
	l.mu.Unlock()
}

// expected returns every post (id → user) and user the shards must hold:
// the seed's and the acknowledged ones so far.
func (l *ledger) expected() (posts map[int64]int, users []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	posts = make(map[int64]int, len(l.posts)+l.shape.SeedPosts())
	for id := 1; id <= l.shape.SeedPosts(); id++ {
		posts[int64(id)] = (id-1)/l.shape.PostsPerUser + 1
	}
	for id, u := range l.posts {
		posts[id] = u
	}
	for u := 1; u <= l.shape.Users; u++ {
		users = append(users, u)
	}
	return posts, append(users, l.signups...)
}
