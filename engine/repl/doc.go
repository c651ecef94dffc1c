// Package repl is replication: a primary streams its log of committed
// writes to replicas over HTTP; routers send writes to the primary and reads
// to the replicas; a monitor promotes the most up-to-date replica when the
// primary dies; every acknowledged write is accounted for, so lost and
// set-aside writes are counted by id. It comes after sqldb.
package repl
