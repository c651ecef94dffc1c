package sharding

import (
	"fmt"
	"strconv"
	"time"

	"scalelab/engine"
	"scalelab/engine/shard"
)

// The knobs' values, in the order their keys cycle them.
var (
	replicaValues  = []string{"0", "2"}
	keyValues      = []string{"user-hash", "signup-range", "country"}
	strategyValues = []string{shard.Modulo, shard.Ring}
	vnodeValues    = []string{"64", "256", "8"}
	celebValues    = []string{"0", "30", "60"}
	fixValues      = []string{"none", "dedicated", "cache"}
	feedValues     = []string{shard.FeedScatter, shard.FeedDenorm}
)

// keyLayouts are the shard.key knob's layouts.
var keyLayouts = map[string]shard.Layout{
	"user-hash":    {Strategy: shard.Modulo, Key: shard.KeyUser},
	"signup-range": {Strategy: shard.Range, Key: shard.KeyUser},
	"country":      {Strategy: shard.Modulo, Key: shard.KeyCountry},
}

// dedicatedSize is the dedicated shard's machine: bigger than the others,
// as a celebrity's own shard would be.
const dedicatedSize = "medium"

// cacheTTL is how long the cache in front keeps the celebrity's posts.
const cacheTTL = 5 * time.Second

func (l *lab) knobs() error {
	all := map[string]func() *engine.Knob{
		"shard.replicas": func() *engine.Knob {
			return engine.NewKnob("shard.replicas", replicaValues, "0", l.setReplicas)
		},
		"shard.count": func() *engine.Knob {
			return engine.NewKnob("shard.count", l.tn.counts, l.tn.counts[0], l.setCount)
		},
		"shard.key": func() *engine.Knob {
			return engine.NewKnob("shard.key", keyValues, keyValues[0], func(v string) error {
				lay := keyLayouts[v]
				lay.Users, lay.VNodes = shape.Users, l.tn.layout.VNodes
				return l.rt.Reshard(lay, l.rt.Shards())
			})
		},
		"shard.strategy": func() *engine.Knob {
			return engine.NewKnob("shard.strategy", strategyValues, l.tn.layout.Strategy, func(v string) error {
				lay := l.rt.Map().Layout()
				lay.Strategy, lay.VNodes = v, int(l.vnodes.Load())
				return l.rt.Reshard(lay, l.rt.Shards())
			})
		},
		"shard.vnodes": func() *engine.Knob {
			return engine.NewKnob("shard.vnodes", vnodeValues, strconv.Itoa(l.tn.layout.VNodes), func(v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return err
				}
				lay := l.rt.Map().Layout()
				if lay.Strategy != shard.Ring {
					l.vnodes.Store(int64(n)) // the ring gets them when it comes
					return nil
				}
				lay.VNodes = n
				if err := l.rt.Reshard(lay, l.rt.Shards()); err != nil {
					return err
				}
				l.vnodes.Store(int64(n))
				return nil
			})
		},
		"shard.celebrity": func() *engine.Knob {
			return engine.NewKnob("shard.celebrity", celebValues, l.tn.celeb, func(v string) error {
				n, err := strconv.Atoi(v)
				if err == nil {
					l.celeb.Store(int64(n))
				}
				return err
			})
		},
		"shard.fix":  func() *engine.Knob { return engine.NewKnob("shard.fix", fixValues, "none", l.setFix) },
		"shard.feed": func() *engine.Knob { return engine.NewKnob("shard.feed", feedValues, shard.FeedScatter, l.rt.SetFeed) },
	}
	for _, k := range l.tn.knobs {
		mk, ok := all[k]
		if !ok {
			return fmt.Errorf("no knob %s", k)
		}
		l.sys.AddKnob(mk())
	}
	return nil
}

// setReplicas gives every shard n replicas.
func (l *lab) setReplicas(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	for _, s := range l.rt.Shards() {
		if n == 0 {
			if err := s.RemoveReplicas(); err != nil {
				return err
			}
			continue
		}
		for i := len(s.Replicas()); i < n; i++ {
			if _, err := s.AddReplica(l.sys.Context(), fmt.Sprintf("%s-r%d", s.Name(), i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setCount reshards over n shards: new ones are made first, and those
// left out are removed once their rows have moved.
func (l *lab) setCount(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	if l.rt.Moving() {
		return shard.ErrMoving
	}
	cur := l.rt.Shards()
	list := cur[:min(n, len(cur))]
	for len(list) < n {
		ns, err := l.rt.NewShards(l.shardConfig(l.sys.NextName("shard")))
		if err != nil {
			return err
		}
		list = append(list, ns...)
	}
	if err := l.rt.Reshard(l.rt.Map().Layout(), list); err != nil {
		return err
	}
	// a new shard of a primary with replicas gets them too
	if len(cur) > 0 && len(cur[0].Replicas()) > 0 {
		return l.setReplicas(strconv.Itoa(len(cur[0].Replicas())))
	}
	return nil
}

// setFix cools the celebrity's shard: a dedicated shard through the
// directory, or a cache in front of their posts, or neither.
func (l *lab) setFix(v string) error {
	if l.rt.Moving() {
		return shard.ErrMoving
	}
	lay := l.rt.Map().Layout()
	var list []*shard.Shard
	for _, s := range l.rt.Shards() {
		if !pinnedOnly(lay, s.Slot()) {
			list = append(list, s)
		}
	}
	pinned := len(lay.Pins) > 0
	lay.Pins = nil
	l.rt.SetCache(nil, nil, 0)
	switch v {
	case "dedicated":
		cfg := l.shardConfig(l.sys.NextName("shard"))
		cfg.Size = dedicatedSize
		ns, err := l.rt.NewShards(cfg)
		if err != nil {
			return err
		}
		list = append(list, ns...)
		lay.Pins = map[int]string{celebrity: cfg.Name}
	case "cache":
		c, err := l.makeCache()
		if err != nil {
			return err
		}
		l.rt.SetCache(c, func(u int) bool { return u == celebrity }, cacheTTL)
	}
	if !pinned && len(lay.Pins) == 0 {
		return nil // no row changes owner
	}
	return l.rt.Reshard(lay, list)
}

func pinnedOnly(lay shard.Layout, name string) bool {
	for _, n := range lay.Pins {
		if n == name {
			return true
		}
	}
	return false
}
