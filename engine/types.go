package engine

import (
	"fmt"
	"time"
)

// Role is what a node does in the topology. Chaos targets select nodes by
// role (`@web`, `@random-web`).
type Role string

// Roles known to the engine.
const (
	RoleApp   Role = "app"     // one server doing web and data work
	RoleWeb   Role = "web"     // stateless web server
	RoleDB    Role = "db"      // SQLite database server
	RoleKV    Role = "kv"      // key-value store (Redis)
	RoleLB    Role = "lb"      // load balancer
	RoleCache Role = "cache"   // cache server
	RoleMon   Role = "monitor" // failover monitor (like Redis Sentinel)
)

// State is a node's lifecycle state.
type State string

// Node states. Saturated is an up node whose workers are all busy and whose
// queue holds at least as many requests as it has workers: it is falling
// behind, not just busy for a moment.
const (
	StateUp         State = "up"
	StateDown       State = "down"
	StateRestarting State = "restarting"
	StateSaturated  State = "saturated"
	StateDraining   State = "draining"
)

// Event is one line of the event log.
type Event struct {
	T      time.Duration `json:"-"`
	TMs    int64         `json:"t_ms"`
	Kind   string        `json:"kind"`
	Node   string        `json:"node"`
	Detail string        `json:"detail"`
}

func (e Event) String() string {
	return fmt.Sprintf("%6.1fs %-10s %-8s %s", e.T.Seconds(), e.Kind, e.Node, e.Detail)
}

// Event kinds.
const (
	EvKill      = "kill"
	EvRestart   = "restart"
	EvUp        = "up"
	EvLatency   = "latency"
	EvRate      = "rate"
	EvSpike     = "spike"
	EvSet       = "set"
	EvEject     = "eject"   // LB health check took a target out
	EvRejoin    = "rejoin"  // LB health check put a target back
	EvAdd       = "add"     // a node joined
	EvRemove    = "remove"  // a node left
	EvDrain     = "drain"   // a node started draining
	EvDrained   = "drained" // a draining node has no requests left
	EvSaturate  = "saturated"
	EvPause     = "pause"
	EvResume    = "resume"
	EvSpeed     = "speed"
	EvInfo      = "info"
	EvPartition = "partition"
	EvSemiSync  = "semi-sync"
	EvMiss      = "heartbeat"
	EvPromote   = "promote"
	EvLost      = "lost"
	EvSetAside  = "set-aside"
	EvRejoinDB  = "rejoin"
	EvRefuse    = "refuse"
	EvSeed      = "seed"
	EvHeal      = "heal"
)
