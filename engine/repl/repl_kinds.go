package repl

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleMon    engine.Role      = "monitor" // failover monitor (like Redis Sentinel)
	EvSemiSync engine.EventKind = "semi-sync"
	EvMiss     engine.EventKind = "heartbeat"
	EvPromote  engine.EventKind = "promote"
	EvLost     engine.EventKind = "lost"
	EvSetAside engine.EventKind = "set-aside"
	EvRejoinDB engine.EventKind = "db-rejoin" // an old primary came back
	EvRefuse   engine.EventKind = "refuse"
	EvSeed     engine.EventKind = "seed"
)
