// Package queue is message queuing on Redis Streams (a miniredis broker,
// reached through go-redis): a work queue, where each message is handled
// by one of several workers, ACKed and deleted, and redelivered by a
// reaper when its worker went silent; and an event log, one stream (or one
// per partition) kept in order, read by many consumer groups at their own
// pace, each able to replay it from the start. The broker's time follows
// the lab clock, consumers poll on the lab clock, and a pause freezes
// everything. Lag, the reaper and the dead-letter rule are the lab's own
// code beside the broker (miniredis reports no lag), as a real system's
// client library or operator would add them.
package queue

import "scalelab/engine"

// Roles, event kinds and actions of this component.
const (
	RoleBroker   engine.Role = "broker"   // the Redis Streams server
	RoleWorker   engine.Role = "worker"   // a work queue's consumer
	RoleConsumer engine.Role = "consumer" // an event log's consumer service

	EvRedeliver  engine.EventKind = "redeliver"   // the reaper handed messages on
	EvDeadLetter engine.EventKind = "dead-letter" // a message gave up on
	EvReplay     engine.EventKind = "replay"      // a consumer group reset to the start

	// ActPoison enqueues one message no worker can handle.
	ActPoison engine.Kind = "poison"
	// ActReplay resets a consumer group (the target) to the start of the
	// log; its service rebuilds its state from what the log kept.
	ActReplay engine.Kind = "replay"
)
