package shard

import (
	"sync"
	"time"
)

// calls counts the router's calls to each shard by lab second: the load a
// shard actually took (a read answered by the cache in front is not one).
type calls struct {
	mu   sync.Mutex
	secs map[string]map[int]int64
}

func (c *calls) add(name string, t time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secs == nil {
		c.secs = map[string]map[int]int64{}
	}
	m := c.secs[name]
	if m == nil {
		m = map[int]int64{}
		c.secs[name] = m
	}
	m[int(t/time.Second)]++
}

// CallsIn is how many calls the router made to a shard in lab seconds
// [from, to).
func (r *Router) CallsIn(name string, from, to int) int64 {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	var n int64
	for s := from; s < to; s++ {
		n += r.calls.secs[name][s]
	}
	return n
}
