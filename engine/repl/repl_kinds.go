package repl

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleMon    engine.Role = "monitor" // failover monitor (like Redis Sentinel)
	EvSemiSync             = "semi-sync"
	EvMiss                 = "heartbeat"
	EvPromote              = "promote"
	EvLost                 = "lost"
	EvSetAside             = "set-aside"
	EvRejoinDB             = "rejoin"
	EvRefuse               = "refuse"
	EvSeed                 = "seed"
)
