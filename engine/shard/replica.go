package shard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"scalelab/engine"
)

// follower is a primary's stream to one replica: the mutations it
// committed, in order, sent to the replica's /apply one at a time. A
// replica that is down keeps its place; the primary keeps the backlog.
type follower struct {
	rep    *Shard
	client *http.Client

	mu      sync.Mutex
	backlog []mutation
	wake    chan struct{}
}

func (f *follower) push(m mutation) {
	f.mu.Lock()
	f.backlog = append(f.backlog, m)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *follower) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.backlog)
}

// run sends the backlog to the replica until ctx ends.
func (f *follower) run(ctx context.Context, clock *engine.Clock, token string) {
	for {
		f.mu.Lock()
		var m *mutation
		if len(f.backlog) > 0 {
			m = &f.backlog[0]
		}
		f.mu.Unlock()
		if m == nil {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			continue
		}
		if err := f.send(ctx, *m, token); err != nil {
			// down or overloaded: try again shortly
			if clock.Sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
			continue
		}
		f.mu.Lock()
		f.backlog[0] = mutation{}
		f.backlog = f.backlog[1:]
		f.mu.Unlock()
	}
}

func (f *follower) send(ctx context.Context, m mutation, token string) error {
	body, err := encodeMutation(m)
	if err != nil {
		return err
	}
	if f.rep.Addr() == "" {
		return engine.ErrDown
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.rep.URL()+"/apply", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(engine.HeaderVia, token)
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", f.rep.Name(), resp.Status)
	}
	return nil
}

// behind is how many mutations a replica has yet to apply.
func (s *Shard) behind(rep *Shard) int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, f := range s.reps {
		if f.rep == rep {
			return f.len()
		}
	}
	return 0
}

// Replicas returns the shard's replicas.
func (s *Shard) Replicas() []*Shard {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	out := make([]*Shard, len(s.reps))
	for i, f := range s.reps {
		out[i] = f.rep
	}
	return out
}

// AddReplica makes a replica from a consistent copy of the shard (SQLite's
// online backup, taken while writes wait) and starts streaming every write
// after it. The replica is added to the system and starts.
func (s *Shard) AddReplica(ctx context.Context, name string) (*Shard, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rep := &Shard{cfg: s.cfg, sys: s.sys, slot: s.slot}
	rep.cfg.Name = name
	path := freshPath(s.sys.Dir, name)
	if err := s.data.BackupTo(ctx, path); err != nil {
		return nil, fmt.Errorf("%s: copy for %s: %w", s.Name(), name, err)
	}
	d, err := openCopy(s.sys, path)
	if err != nil {
		return nil, err
	}
	rep.data = d
	rep.rows.Store(s.rows.Load())
	rep.primary.Store(s)
	rep.Server, rep.Sized, err = engine.NewMachine(s.sys, engine.ServerConfig{Name: name, Role: RoleReplica, Private: s.sys.Token, Layer: engine.LayerData, OnBoot: rep.onBoot}, s.cfg.Size, rep.handle)
	if err != nil {
		return nil, err
	}
	if err := s.sys.AddNode(rep); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(s.sys.Context())
	f := &follower{rep: rep, client: newClient(s.sys), wake: make(chan struct{}, 1)}
	rep.stop = cancel
	s.reps = append(s.reps, f)
	s.sys.Go(func(context.Context) { f.run(rctx, s.sys.Clock, s.sys.Token) })
	return rep, nil
}

// RemoveReplicas stops streaming to the shard's replicas and removes them.
func (s *Shard) RemoveReplicas() error {
	s.wmu.Lock()
	reps := s.reps
	s.reps = nil
	s.wmu.Unlock()
	var errs []error
	for _, f := range reps {
		f.rep.stop()
		errs = append(errs, s.sys.RemoveNode(f.rep.Name()))
	}
	return joinErrs(errs)
}
