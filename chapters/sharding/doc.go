// Package sharding is chapter 10: writes that outgrow one primary, shard
// keys, resharding with the moves counted, a celebrity's hot shard, and a
// feed across shards.
package sharding
