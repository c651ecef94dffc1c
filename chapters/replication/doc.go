// Package replication is chapter 4: a primary and replicas, lag and stale
// reads, replica and primary failures, async and semi-sync failover, a
// partition.
package replication
