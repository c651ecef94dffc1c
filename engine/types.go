package engine

import (
	"fmt"
	"time"
)

// Role is what a node does in the topology. Chaos targets select nodes by
// role (`@web`, `@random-web`).
type Role string

// Roles known to the engine.
const ()

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
	EvAdd       = "add" // a node joined
	EvSaturate  = "saturated"
	EvPause     = "pause"
	EvResume    = "resume"
	EvSpeed     = "speed"
	EvInfo      = "info"
	EvPartition = "partition"
	EvHeal      = "heal"
)
