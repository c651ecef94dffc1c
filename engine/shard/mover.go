package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"scalelab/engine"
)

// Move is one reshard's figures: what changed, the rows that moved
// against the share expected, how long it took, the writes it kept and
// the check after it.
type Move struct {
	From, To      int    // shards before and after
	Before, After string // the layouts
	Total         int64  // rows when it started copying
	// Counted is set once the writes begun before the move have finished
	// and the rows to scan are counted: until then it waits
	Counted bool
	Scanned int64 // rows the mover read
	Moved   int64 // rows copied to a new owner
	// Theory is the share of rows expected to move: for the same
	// strategy, the formula (modulo n→n+1 moves n/(n+1), a ring 1/(n+1));
	// otherwise the share of the seeded users whose owner changes.
	Theory                  float64
	Kept                    int64 // writes acknowledged during the move
	Started, Switched, Done time.Duration
	Checked                 bool
	// the check after the move: expected rows missing, rows on a shard
	// that does not own them, rows on two shards
	Lost, Misplaced, Duplicates int64
}

// Ratio is the share of rows moved, 0..1.
func (m Move) Ratio() float64 {
	if m.Total == 0 {
		return 0
	}
	return float64(m.Moved) / float64(m.Total)
}

// Seconds is the move's length in lab seconds, from start to the old
// copies deleted (0 while it runs).
func (m Move) Seconds() float64 {
	if m.Done == 0 {
		return 0
	}
	return (m.Done - m.Started).Seconds()
}

// move is a move under way.
type move struct {
	prev   *Map // the map the move leaves
	next   *Map
	shards []*Shard // the next map's order
	stats  *Move
	kept   atomic.Int64
	// tops is each old shard's last rowid per table when the move
	// started: the mover scans up to it
	tops map[*Shard][]int64

	mu    sync.Mutex
	stale map[*Shard]map[int]bool // keys whose rows a shard must drop after the switch
}

func (mv *move) owner(k int) *Shard { return mv.shards[mv.next.Owner(k)] }

// dual notes a key written on both owners: its old owner's copy goes
// after the switch.
func (mv *move) dual(old *Shard, k int) {
	mv.mu.Lock()
	if mv.stale[old] == nil {
		mv.stale[old] = map[int]bool{}
	}
	mv.stale[old][k] = true
	mv.mu.Unlock()
}

// ErrMoving is returned for a change of the map while a move runs.
var ErrMoving = errors.New("a move is under way: wait for it to finish")

// Moves returns every move so far, the latest last.
func (r *Router) Moves() []Move {
	r.movesMu.Lock()
	defer r.movesMu.Unlock()
	out := make([]Move, len(r.moves))
	for i, m := range r.moves {
		out[i] = *m
	}
	return out
}

// Incoming returns the shards a move under way is filling that the map
// does not have yet.
func (r *Router) Incoming() []*Shard {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.running == nil {
		return nil
	}
	var out []*Shard
	for _, s := range r.running.shards {
		if !slices.Contains(r.shards, s) {
			out = append(out, s)
		}
	}
	return out
}

// Moving reports a move under way: from Reshard until the old copies are
// deleted and every row checked.
func (r *Router) Moving() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.running != nil
}

// AddShard adds a shard node and moves to the current layout over the
// shards plus the new one.
func (r *Router) AddShard(cfg Config) (*Shard, error) {
	if r.Moving() {
		return nil, ErrMoving
	}
	ns, err := r.NewShards(cfg)
	if err != nil {
		return nil, err
	}
	return ns[0], r.Reshard(r.Map().Layout(), append(r.Shards(), ns[0]))
}

// Reshard moves to a layout over the given shards (the current ones, and
// any added): it copies the rows whose owner changes, throttled to the
// move rate, while writes go to both owners; switches the map; deletes
// the old copies; and checks every row. It returns at once; Moves shows
// its progress.
func (r *Router) Reshard(l Layout, shards []*Shard) error {
	names := make([]string, len(shards))
	for i, s := range shards {
		names[i] = s.slot
	}
	next, err := NewMap(l, names)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.running != nil {
		r.mu.Unlock()
		return ErrMoving
	}
	st := &Move{From: len(r.shards), To: len(shards), Before: r.cur.Layout().String(), After: l.String(),
		Theory: theory(r.cur, next, r.cfg.Shape.Users), Started: r.sys.Clock.Now()}
	mv := &move{prev: r.cur, next: next, shards: slices.Clone(shards), stats: st, tops: map[*Shard][]int64{}, stale: map[*Shard]map[int]bool{}}
	old := slices.Clone(r.shards)
	// from here every write goes to both owners; the writes that began
	// before went to the old one only, and the mover waits for them
	r.mv, r.running = mv, mv
	before := r.nextEpoch()
	r.mu.Unlock()
	r.movesMu.Lock()
	r.moves = append(r.moves, st)
	r.movesMu.Unlock()
	r.sys.Go(func(ctx context.Context) {
		if err := r.runMove(ctx, mv, old, before); err != nil && ctx.Err() == nil {
			r.sys.Events.Add(EvReshard, r.Name(), engine.Textf("shard.move.failed", "move failed: %s", err.Error()))
		}
	})
	return nil
}

// moveBatch is how many rows the mover reads at a time.
const moveBatch = 500

func (r *Router) runMove(ctx context.Context, mv *move, old []*Shard, before *epoch) error {
	defer func() {
		r.mu.Lock()
		if r.mv == mv {
			r.mv = nil // failed before the switch: the old map stays
		}
		r.running = nil
		r.mu.Unlock()
	}()
	before.wg.Wait()
	// the rows there now are the ones to scan: a row written later is a
	// dual write, already on both owners, or a copy the mover made, already
	// on its new owner
	var total int64
	for _, s := range old {
		// the last rowids and the count at the same instant: no write
		// commits between them
		s.wmu.Lock()
		t, err := topRowids(s)
		n := s.Rows()
		s.wmu.Unlock()
		if err != nil {
			return err
		}
		mv.tops[s] = t
		total += n
	}
	r.movesMu.Lock()
	mv.stats.Total, mv.stats.Counted = total, true
	r.movesMu.Unlock()
	r.sys.Events.Add(EvReshard, r.Name(), engine.Textf("shard.move.start", "moving to %s over %s: %d rows to scan", mv.next.Layout().Text(), engine.Plural(len(mv.shards), "shard"), total))
	copied := int64(0)
	began := r.sys.Clock.Now()
	for si, src := range old {
		for ti := range tables {
			last := int64(-1)
			for {
				// a dead shard is read only once it is back
				if err := r.retry(ctx, func() error { return isUp(src) }); err != nil {
					return err
				}
				rows, top, err := scanRows(ctx, src, ti, last, mv.tops[src][ti], moveBatch)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					break
				}
				if err := r.retry(ctx, func() error { return src.busy(ctx, time.Duration(len(rows))*r.cfg.MoveCost/4) }); err != nil {
					return err
				}
				last = top
				by := map[*Shard][]row{}
				scanned := int64(0)
				for _, rw := range rows {
					if mv.prev.Owner(rw.key()) != si {
						// a copy this move made (users' rowids are their
						// ids, not the order rows came): on its new owner
						continue
					}
					scanned++
					if dst := mv.owner(rw.key()); dst != src {
						by[dst] = append(by[dst], rw)
						mv.dual(src, rw.key())
					}
				}
				n := int64(0)
				for dst, rs := range by {
					if err := r.retry(ctx, func() error {
						if err := isUp(dst); err != nil {
							return err // a dead shard takes nothing until it is back
						}
						if err := dst.busy(ctx, time.Duration(len(rs))*r.cfg.MoveCost); err != nil {
							return err
						}
						_, err := dst.apply(ctx, mutation{Rows: rs})
						return err
					}); err != nil {
						return err
					}
					n += int64(len(rs))
				}
				copied += n
				r.movesMu.Lock()
				mv.stats.Scanned += scanned
				mv.stats.Moved += n
				r.movesMu.Unlock()
				if rate := r.cfg.MoveRate; rate > 0 {
					due := began + time.Duration(float64(copied)/rate*float64(time.Second))
					if err := r.sys.Clock.SleepUntil(ctx, due); err != nil {
						return err
					}
				}
			}
		}
	}
	// switch: later writes see the new map
	r.mu.Lock()
	r.cur, r.shards, r.mv = mv.next, mv.shards, nil
	dual := r.nextEpoch()
	r.mu.Unlock()
	// the dual writes still in flight land before the old copies go
	dual.wg.Wait()
	now := r.sys.Clock.Now()
	r.movesMu.Lock()
	mv.stats.Switched = now
	mv.stats.Kept = mv.kept.Load()
	r.movesMu.Unlock()
	// the old copies go
	mv.mu.Lock()
	stale := mv.stale
	mv.mu.Unlock()
	for s, keys := range stale {
		ks := make([]int, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for i := 0; i < len(ks); i += 200 {
			part := ks[i:min(i+200, len(ks))]
			if err := r.retry(ctx, func() error {
				if err := isUp(s); err != nil {
					return err
				}
				_, err := s.apply(ctx, mutation{Del: part})
				return err
			}); err != nil {
				return err
			}
		}
	}
	done := r.sys.Clock.Now()
	lost, misplaced, dups, err := r.Check(ctx)
	if err != nil {
		return err
	}
	r.movesMu.Lock()
	st := mv.stats
	st.Done, st.Checked, st.Lost, st.Misplaced, st.Duplicates = done, true, lost, misplaced, dups
	snap := *st
	r.movesMu.Unlock()
	r.retire(old, mv.shards)
	r.sys.Events.Add(EvReshard, r.Name(), engine.Textf("shard.move.done", "moved %d of %d rows (%.0f%%, theory %.0f%%) in %.1f s · %d lost",
		snap.Moved, snap.Total, 100*snap.Ratio(), 100*snap.Theory, snap.Seconds(), snap.Lost))
	return nil
}

// isUp fails for a shard that is not up. (A killed node keeps its address:
// only its state says it is down.)
func isUp(s *Shard) error {
	if s.State() != engine.StateUp {
		return fmt.Errorf("%s: %w", s.Name(), engine.ErrDown)
	}
	return nil
}

// retry runs fn until it succeeds, half a lab second apart.
func (r *Router) retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.sys.Clock.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// topRowids is a shard's last rowid in each table.
func topRowids(s *Shard) ([]int64, error) {
	out := make([]int64, len(tables))
	for i, tb := range tables {
		if err := s.data.QueryRowScan(context.Background(), "SELECT COALESCE(MAX(rowid), 0) FROM "+tb.name, nil, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
	}
	return out, nil
}

// scanRows reads up to n rows of a table after a rowid and up to upto,
// and the last rowid read.
func scanRows(ctx context.Context, s *Shard, t int, after, upto int64, n int) ([]row, int64, error) {
	tb := tables[t]
	q := "SELECT rowid"
	for _, c := range tb.cols {
		q += ", " + c
	}
	q += " FROM " + tb.name + " WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
	rs, err := s.data.QueryContext(ctx, q, after, upto, n)
	if err != nil {
		return nil, 0, err
	}
	defer rs.Close()
	var out []row
	top := after
	for rs.Next() {
		vals := make([]any, len(tb.cols))
		dest := make([]any, len(tb.cols)+1)
		dest[0] = &top
		for i := range vals {
			dest[i+1] = &vals[i]
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, 0, err
		}
		out = append(out, row{t, vals})
	}
	return out, top, rs.Err()
}
