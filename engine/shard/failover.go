package shard

import (
	"context"
	"net/http"
	"time"

	"scalelab/engine"
)

// EvFailover is a shard's replica promoted in place of its dead primary.
const EvFailover engine.EventKind = "failover"

// The router's health checks: every second, a primary that misses three
// in a row is declared dead and, if it has a replica up, replaced by it
// (as chapter 4's monitor does for a single database).
const (
	checkEvery = time.Second
	checkMiss  = 3
)

// monitor checks every shard's primary that has a replica until ctx
// ends.
func (r *Router) monitor(ctx context.Context) {
	misses := map[*Shard]int{}
	r.sys.Clock.Every(ctx, checkEvery, func(time.Duration) {
		for i, s := range r.Shards() {
			// a primary with no replica has nobody to fail over to
			if len(s.Replicas()) == 0 || r.healthy(ctx, s) {
				misses[s] = 0
				continue
			}
			if misses[s]++; misses[s] >= checkMiss {
				if r.failover(ctx, i, s) {
					delete(misses, s)
				}
			}
		}
	})
}

// healthy asks a shard's /health over HTTP, as a real monitor would.
func (r *Router) healthy(ctx context.Context, s *Shard) bool {
	ctx, cancel := r.sys.Clock.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/health", nil)
	if err != nil {
		return false
	}
	req.Header.Set(engine.HeaderVia, r.sys.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// failover promotes the dead primary's most caught-up replica that is up
// into its slot: its keys' requests go there from now on. The writes the
// dead primary acknowledged and had not yet sent it are lost, as with any
// asynchronous replication. The other replicas copy the new primary and
// follow it; the dead one does the same when it restarts. A failover waits
// for a move under way to finish. It reports whether it promoted one.
func (r *Router) failover(ctx context.Context, slot int, dead *Shard) bool {
	r.mu.Lock()
	if r.running != nil || slot >= len(r.shards) || r.shards[slot] != dead {
		r.mu.Unlock()
		return false
	}
	dead.wmu.Lock()
	reps := dead.reps
	var best *follower
	for _, f := range reps {
		if f.rep.State() == engine.StateUp && (best == nil || f.len() < best.len()) {
			best = f
		}
	}
	if best == nil {
		dead.wmu.Unlock()
		r.mu.Unlock()
		return false
	}
	dead.reps = nil
	behind := best.len()
	dead.wmu.Unlock()
	for _, f := range reps {
		f.rep.stop()
	}
	nw := best.rep
	nw.primary.Store(nil)
	dead.successor.Store(nw)
	r.shards[slot] = nw
	r.nextEpoch()
	r.mu.Unlock()
	fo := Failover{Dead: dead.Name(), Promoted: nw.Name(), At: r.sys.Clock.Now(), Behind: int64(behind)}
	r.sys.Events.Add(EvFailover, nw.Name(), engine.Textf("shard.failover", "%s missed %d health checks: %s promoted in its place, %d writes it had not applied lost",
		dead.Name(), checkMiss, nw.Name(), behind))
	for _, f := range reps {
		if f == best {
			continue
		}
		if err := nw.adopt(ctx, f.rep); err != nil {
			r.sys.Events.Add(EvFailover, f.rep.Name(), engine.Textf("shard.adopt.failed", "a replica could not follow it: %s", err.Error()))
		}
	}
	// the acknowledged writes the promotion lost, counted by the check
	if lost, _, _, err := r.Check(ctx); err == nil {
		fo.Lost, fo.Checked = lost, true
	}
	r.movesMu.Lock()
	r.failovers = append(r.failovers, fo)
	r.movesMu.Unlock()
	return true
}

// Failover is one promotion: the dead primary, the replica promoted, when,
// the writes it had not applied, and the acknowledged rows the check after
// found missing.
type Failover struct {
	Dead, Promoted string
	At             time.Duration
	Behind         int64
	Lost           int64
	Checked        bool
}

// Failovers returns every failover so far.
func (r *Router) Failovers() []Failover {
	r.movesMu.Lock()
	defer r.movesMu.Unlock()
	return append([]Failover(nil), r.failovers...)
}

// adopt makes rep a replica of s: a fresh copy of s's data, taken while
// s's writes wait, then every write after it.
func (s *Shard) adopt(ctx context.Context, rep *Shard) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := rep.data.ReplaceFrom(ctx, s.data); err != nil {
		return err
	}
	rep.rows.Store(s.rows.Load())
	rep.primary.Store(s)
	rep.successor.Store(nil)
	rctx, cancel := context.WithCancel(s.sys.Context())
	f := &follower{rep: rep, client: newClient(s.sys), wake: make(chan struct{}, 1)}
	rep.stop = cancel
	s.reps = append(s.reps, f)
	s.sys.Go(func(context.Context) { f.run(rctx, s.sys.Clock, s.sys.Token) })
	return nil
}

// onBoot runs while a node restarts: a primary replaced while it was
// dead comes back as a replica of the one that took its place.
func (s *Shard) onBoot() {
	nx := s.successor.Load()
	if nx == nil {
		return
	}
	if err := nx.adopt(s.sys.Context(), s); err != nil {
		s.sys.Events.Add(EvFailover, s.Name(), engine.Textf("shard.adopt.failed", "a replica could not follow it: %s", err.Error()))
	}
}
