package shard

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scalelab/engine/internal/enginetest"
)

// writers post through the router from a few goroutines, for random
// users, until halted, and keep what was acknowledged.
type writers struct {
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  map[int64]int // post id → user
	failed atomic.Int64
	errs   []error
}

func startWriters(r *Router, n, users int) *writers {
	ctx, stop := context.WithCancel(context.Background())
	w := &writers{stop: stop, acked: map[int64]int{}}
	for g := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for ctx.Err() == nil {
				u := 1 + rng.IntN(users)
				id, err := r.Post(ctx, u)
				w.mu.Lock()
				switch {
				case err == nil:
					w.acked[id] = u
				case ctx.Err() == nil:
					w.failed.Add(1)
					if len(w.errs) < 5 {
						w.errs = append(w.errs, err)
					}
				}
				w.mu.Unlock()
			}
		}()
	}
	return w
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// halt stops the writers and returns what they had acknowledged.
func (w *writers) halt() map[int64]int {
	w.stop()
	w.wg.Wait()
	return w.acked
}

// waitMove waits for move i to be checked and over. Moving must hold
// until it is checked: a next move may not start while this one still
// deletes old copies or checks.
func waitMove(t *testing.T, r *Router, i int) Move {
	t.Helper()
	var mv Move
	enginetest.Eventually(t, "the move checked", within, func() bool {
		moving := r.Moving()
		ms := r.Moves()
		if len(ms) <= i {
			t.Fatalf("%d moves, want move %d", len(ms), i)
		}
		mv = ms[i]
		if !moving && !mv.Checked {
			t.Fatalf("Moving() is false before move %d was checked: %+v", i, mv)
		}
		return mv.Checked && !moving
	})
	return mv
}

// checkMove asserts a finished move's figures: the share moved near its
// theory, writes kept during it, and nothing lost, misplaced or doubled.
func checkMove(t *testing.T, mv Move, theory float64) {
	t.Helper()
	t.Logf("%s → %s, %d → %d shards: moved %d of %d rows (%.3f, theory %.3f), kept %d writes, %.2f lab s",
		mv.Before, mv.After, mv.From, mv.To, mv.Moved, mv.Total, mv.Ratio(), mv.Theory, mv.Kept, mv.Seconds())
	if math.Abs(mv.Theory-theory) > 1e-9 {
		t.Errorf("theory %.4f, want %.4f", mv.Theory, theory)
	}
	if math.Abs(mv.Ratio()-mv.Theory) > 0.05 {
		t.Errorf("moved %.3f of the rows, theory %.3f: more than 5 points apart", mv.Ratio(), mv.Theory)
	}
	if mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 {
		t.Errorf("after the move: %d lost, %d misplaced, %d duplicates; want none", mv.Lost, mv.Misplaced, mv.Duplicates)
	}
	if mv.Kept == 0 {
		t.Error("no write was acknowledged during the move")
	}
	// the count at the start may hold a few dual writes' second copies,
	// on shards not yet their owner: the scan skips them
	if mv.Scanned > mv.Total || mv.Total-mv.Scanned > mv.Kept || mv.Switched < mv.Started || mv.Done < mv.Switched {
		t.Errorf("scanned %d of %d rows; started %v, switched %v, done %v", mv.Scanned, mv.Total, mv.Started, mv.Switched, mv.Done)
	}
}

// checkPlacement asserts that every acknowledged post is on its owner
// and no other shard, that each shard's row count is what it holds, and
// that a user's latest acknowledged post reads back through the router.
func checkPlacement(t *testing.T, r *Router, acked map[int64]int) {
	t.Helper()
	ctx := context.Background()
	lost, misplaced, dups, err := r.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lost != 0 || misplaced != 0 || dups != 0 {
		t.Errorf("check after the writes: %d lost, %d misplaced, %d duplicates", lost, misplaced, dups)
	}
	m, shards := r.Map(), r.Shards()
	where := map[int64][]int{}
	for i, s := range shards {
		for id := range postsHeld(t, s) {
			where[id] = append(where[id], i)
		}
		if got := countRows(t, s); got != s.Rows() {
			t.Errorf("%s: Rows() says %d, the tables hold %d", s.Name(), s.Rows(), got)
		}
	}
	latest := map[int]int64{}
	bad := 0
	for id, u := range acked {
		if w := where[id]; len(w) != 1 || w[0] != m.Owner(u) {
			if bad++; bad <= 5 {
				t.Errorf("acknowledged post %d by user %d is on shards %v, want only its owner %d", id, u, w, m.Owner(u))
			}
		}
		latest[u] = max(latest[u], id)
	}
	read := 0
	for u, id := range latest {
		if read++; read > 40 {
			break
		}
		posts, err := r.Posts(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		// a post cut short when the writers halted may be there too,
		// unacknowledged and newer
		if !slices.ContainsFunc(posts, func(p Post) bool { return p.ID == id && p.User == int64(u) }) {
			t.Errorf("user %d's posts read %v, without their latest acknowledged post %d", u, posts, id)
		}
	}
}

func TestAddingAShardMovesRowsWhileWritesGoOn(t *testing.T) {
	shape := testShape()
	t.Run("modulo", func(t *testing.T) {
		_, r := newRouter(t, 4, shape, moduloLayout(), 4, 0)
		w := startWriters(r, 3, shape.Users)
		enginetest.Eventually(t, "writes before the move", within, func() bool { return w.count() >= 20 })
		s5, err := r.AddShard(shardConfig(5))
		if err != nil {
			t.Fatal(err)
		}
		mv := waitMove(t, r, 0)
		acked := w.halt()
		if n := w.failed.Load(); n > 0 {
			t.Errorf("%d posts failed during the move: %v", n, w.errs)
		}
		checkMove(t, mv, 0.8)
		if mv.From != 4 || mv.To != 5 {
			t.Errorf("move from %d to %d shards, want 4 → 5", mv.From, mv.To)
		}
		if got := r.Shards(); len(got) != 5 || got[4] != s5 {
			t.Fatalf("after the move the router has %d shards", len(got))
		}
		checkPlacement(t, r, acked)
	})
	t.Run("ring", func(t *testing.T) {
		_, r := newRouter(t, 4, shape, moduloLayout(), 4, 0)
		ring := Layout{Strategy: Ring, Key: KeyUser, VNodes: 64}
		// modulo → ring is a re-layout of its own; its theory is the share
		// of the users whose shard changes
		if err := r.Reshard(ring, r.Shards()); err != nil {
			t.Fatal(err)
		}
		w := startWriters(r, 3, shape.Users)
		relayout := waitMove(t, r, 0)
		next, err := NewMap(ring, shardNames(4))
		if err != nil {
			t.Fatal(err)
		}
		modulo, err := NewMap(moduloLayout(), shardNames(4))
		if err != nil {
			t.Fatal(err)
		}
		checkMove(t, relayout, theory(modulo, next, shape.Users))
		enginetest.Eventually(t, "writes before the add", within, func() bool { return w.count() >= 20 })
		if _, err := r.AddShard(shardConfig(5)); err != nil {
			t.Fatal(err)
		}
		mv := waitMove(t, r, 1)
		acked := w.halt()
		if n := w.failed.Load(); n > 0 {
			t.Errorf("%d posts failed during the moves: %v", n, w.errs)
		}
		checkMove(t, mv, 0.2)
		checkPlacement(t, r, acked)
	})
}

func TestAMoveWaitsForADeadShard(t *testing.T) {
	sys, r := newRouter(t, 4, smallShape(), moduloLayout(), 4, 0)
	ctx := context.Background()
	dead := r.Shards()[1]
	held := countRows(t, dead)
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddShard(shardConfig(5)); err != nil {
		t.Fatal(err)
	}
	// another change waits for this move
	if _, err := r.AddShard(shardConfig(6)); !errors.Is(err, ErrMoving) {
		t.Errorf("AddShard during a move: %v, want ErrMoving", err)
	}
	if err := r.Reshard(Layout{Strategy: Ring, Key: KeyUser, VNodes: 64}, r.Shards()); !errors.Is(err, ErrMoving) {
		t.Errorf("Reshard during a move: %v, want ErrMoving", err)
	}
	if _, ok := sys.Node("shard-6"); ok {
		t.Error("a refused AddShard left its shard in the topology")
	}
	// the mover reads nothing from a dead shard and writes nothing to it:
	// the move cannot switch while shard-2 is down
	if err := sys.Clock.Sleep(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if mv := r.Moves()[0]; mv.Switched != 0 || !r.Moving() {
		t.Fatalf("the move switched with %s down: %+v", dead.Name(), mv)
	}
	if got := countRows(t, dead); got != held {
		t.Errorf("%s went from %d rows to %d while down", dead.Name(), held, got)
	}
	if err := dead.Restart(); err != nil {
		t.Fatal(err)
	}
	mv := waitMove(t, r, 0)
	if mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 {
		t.Errorf("after the move: %d lost, %d misplaced, %d duplicates", mv.Lost, mv.Misplaced, mv.Duplicates)
	}
	if math.Abs(mv.Ratio()-0.8) > 0.05 {
		t.Errorf("moved %.3f of the rows, want about 0.8", mv.Ratio())
	}
	if mv.Switched-mv.Started < 3*time.Second {
		t.Errorf("the move switched %v after it started, before %s came back", mv.Switched-mv.Started, dead.Name())
	}
}

func TestPinningAUserMovesOnlyTheirRows(t *testing.T) {
	shape := smallShape()
	sys, r := newRouter(t, 4, shape, moduloLayout(), 4, 0)
	ctx := context.Background()
	const celeb = 7
	home := r.Owner(celeb)
	var theirs int64
	for _, tb := range tables {
		var n int64
		if err := home.Data().DB().QueryRow("SELECT count(*) FROM "+tb.name+" WHERE "+tb.cols[0]+" = ?", celeb).Scan(&n); err != nil {
			t.Fatal(err)
		}
		theirs += n
	}
	cfg := shardConfig(5)
	cfg.Size = "medium"
	s5, err := NewShard(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.AddNode(s5); err != nil {
		t.Fatal(err)
	}
	l := moduloLayout()
	l.Pins = map[int]string{celeb: s5.Name()}
	if err := r.Reshard(l, append(r.Shards(), s5)); err != nil {
		t.Fatal(err)
	}
	mv := waitMove(t, r, 0)
	if mv.Moved != theirs || mv.Theory != 1/float64(shape.Users) {
		t.Errorf("pinning user %d moved %d rows (theory %.4f), want their %d (1/%d)", celeb, mv.Moved, mv.Theory, theirs, shape.Users)
	}
	if mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 {
		t.Errorf("after the move: %d lost, %d misplaced, %d duplicates", mv.Lost, mv.Misplaced, mv.Duplicates)
	}
	if s5.Rows() != theirs || countRows(t, s5) != theirs {
		t.Errorf("%s holds %d rows (%d counted), want user %d's %d", s5.Name(), s5.Rows(), countRows(t, s5), celeb, theirs)
	}
	served := s5.Served()
	if _, err := r.Post(ctx, celeb); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Posts(ctx, celeb); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Post(ctx, celeb+1); err != nil {
		t.Fatal(err)
	}
	if got := s5.Served() - served; got != 2 {
		t.Errorf("%s served %d of the celebrity's post and read and another user's post, want 2", s5.Name(), got)
	}
}

func TestNewUsersLandOnTheLastRange(t *testing.T) {
	_, r := newRouter(t, 4, smallShape(), Layout{Strategy: Range, Key: KeyUser}, 4, 0)
	last := r.Shards()[3]
	for range 10 {
		u, err := r.Signup(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !hasUser(t, last, u) {
			t.Errorf("new user %d is not on the last range's shard", u)
		}
	}
	for _, s := range r.Shards()[:3] {
		if got := countRows(t, s); got != s.Rows() {
			t.Errorf("%s: Rows() %d, tables %d", s.Name(), s.Rows(), got)
		}
	}
}

func TestMoveTheoryIsReportedForEachChange(t *testing.T) {
	_, r := newRouter(t, 4, testShape(), Layout{Strategy: Ring, Key: KeyUser, VNodes: 64}, 4, 0)
	// ring 64 → 256 vnodes over the same shards: every arc is redrawn
	if err := r.Reshard(Layout{Strategy: Ring, Key: KeyUser, VNodes: 256}, r.Shards()); err != nil {
		t.Fatal(err)
	}
	mv := waitMove(t, r, 0)
	if mv.Theory < 0.2 {
		t.Errorf("ring 64 → 256 vnodes: theory %.3f, but most arcs change hands", mv.Theory)
	}
	if math.Abs(mv.Ratio()-mv.Theory) > 0.05 {
		t.Errorf("ring 64 → 256 vnodes: moved %.3f, theory %.3f", mv.Ratio(), mv.Theory)
	}
	if mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 {
		t.Errorf("after the move: %d lost, %d misplaced, %d duplicates", mv.Lost, mv.Misplaced, mv.Duplicates)
	}
}
