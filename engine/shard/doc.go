// Package shard is sharding: several SQLite database nodes, each holding a
// disjoint part of the users, posts, follows and timelines (no row on two
// shards), and a router in the web tier that sends each query to the shard
// owning its key, as Vitess's vtgate does. The shard map's strategy is
// switchable (hash modulo N, ranges of user id, the user's country, a
// consistent-hash ring with virtual nodes) with a directory that can pin a
// key to a shard. Changing the map (a shard added, another strategy or key)
// starts the mover: it copies the rows whose owner changed while writes go
// to both owners, switches routing, deletes the old copies and checks every
// row. A shard can have replicas that apply every write its primary commits.
package shard

import "scalelab/engine"

// Roles, event kinds of this component.
const (
	RoleShard   engine.Role = "shard"   // a database holding one part of the data
	RoleReplica engine.Role = "replica" // a copy of a shard that applies its writes
	RoleRouter  engine.Role = "router"  // the web tier's query router

	EvReshard engine.EventKind = "reshard" // the mover started or finished
)
