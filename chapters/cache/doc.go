// Package cache is chapter 5: a read-through cache on Redis in front of the
// database: hit ratio, TTL, stale data, eviction, the cache's death and a
// stampede on a hot key.
package cache
