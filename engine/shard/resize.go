package shard

import "slices"

// NewShards makes shard nodes, starts them and links the router to them,
// without giving them any keys: a Reshard over a list that includes them
// does.
func (r *Router) NewShards(cfgs ...Config) ([]*Shard, error) {
	var out []*Shard
	for _, cfg := range cfgs {
		s, err := NewShard(r.sys, cfg)
		if err != nil {
			return out, err
		}
		if err := r.sys.AddNode(s); err != nil {
			return out, err
		}
		r.sys.AddLink(r.Name(), s.Name())
		out = append(out, s)
	}
	return out, nil
}

// retire removes the shards of old that the new map left out, with their
// replicas, once their rows have moved.
func (r *Router) retire(old, kept []*Shard) {
	for _, s := range old {
		if slices.Contains(kept, s) {
			continue
		}
		s.RemoveReplicas()
		r.sys.RemoveNode(s.Name())
	}
}

// Users is the highest user id so far: the seed's and every sign-up.
func (r *Router) Users() int { return int(r.userID.Load()) }
