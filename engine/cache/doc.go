// Package cache is the cache tier: a memory limit and Redis-style sampled
// eviction over a miniredis node (miniredis has none), and a read-through
// store that puts the cache in front of a database (cache-aside, invalidate
// or write-through, with optional coalescing of misses). It comes after kv
// and sqldb.
package cache
