// Package kv is a Redis server reached through a real Redis client
// (go-redis) — miniredis inside the lab's process, or, with UseServer or
// SCALELAB_REDIS_SERVER, a real redis-server process the lab starts, kills
// and restarts — and the key-value store that keeps the lab's data
// denormalised in it. It comes after sqldb: the store is loaded from a SQL
// database.
package kv
