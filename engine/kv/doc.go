// Package kv is a Redis server (miniredis) reached through a real Redis
// client (go-redis), and the key-value store that keeps the lab's data
// denormalised in it. It comes after sqldb: the store is loaded from a SQL
// database.
package kv
