package engine

import (
	"fmt"
	"time"
)

// Role is what a node does in the topology. Chaos targets select nodes by
// role (`@web`, `@random-web`).
type Role string

// Layer is where a node sits on the path of a request, for drawing the
// topology from left to right. A component sets its nodes' layer; the zero
// value is the data layer.
type Layer int

// Layers, from the data at the back to the clients at the front.
const (
	LayerData   Layer = iota // databases, caches, stores, monitors
	LayerClient              // DNS, clients
	LayerEdge                // CDN edges
	LayerEntry               // load balancers
	LayerWeb                 // web and app servers
)

// Rank orders layers from the front (0, the clients) to the back (4, data).
func (l Layer) Rank() int {
	switch l {
	case LayerClient:
		return 0
	case LayerEdge:
		return 1
	case LayerEntry:
		return 2
	case LayerWeb:
		return 3
	}
	return 4
}

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
	Kind   EventKind     `json:"kind"`
	Tone   Tone          `json:"-"`
	Node   string        `json:"node"`
	Detail string        `json:"detail"` // Text in English, on one line
	// Text is the detail keyed, for the lab to say in the learner's
	// language.
	Text Text `json:"-"`
}

// EventKind names what happened. The core and each component declare the
// kinds they log, each unique across the engine (a test checks), with the
// tone the event log shows them in (EventLog.Declare).
type EventKind string

// Tone is how an event reads: bad news, recovery, a warning, a setting.
type Tone int

// Tones.
const (
	ToneNeutral Tone = iota
	ToneBad
	ToneGood
	ToneWarn
	ToneInfo
)

func (e Event) String() string {
	return fmt.Sprintf("%6.1fs %-10s %-8s %s", e.T.Seconds(), e.Kind, e.Node, e.Detail)
}

// Event kinds of the core.
const (
	EvKill      EventKind = "kill"
	EvRestart   EventKind = "restart"
	EvUp        EventKind = "up"
	EvLatency   EventKind = "latency"
	EvRate      EventKind = "rate"
	EvSpike     EventKind = "spike"
	EvSet       EventKind = "set"
	EvAdd       EventKind = "add" // a node joined
	EvSaturate  EventKind = "saturated"
	EvPause     EventKind = "pause"
	EvResume    EventKind = "resume"
	EvSpeed     EventKind = "speed"
	EvInfo      EventKind = "info"
	EvPartition EventKind = "partition"
	EvHeal      EventKind = "heal"
)
