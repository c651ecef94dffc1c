package engine

import "time"

// Snapshot is an immutable picture of the lab, published every tick. The TUI,
// the objectives and the headless report all read the same snapshots. Slices
// and maps in a snapshot are never written after publication.
type Snapshot struct {
	T      time.Duration // lab time
	Paused bool
	Speed  float64

	Rate       float64       // target arrival rate now (req/s), spike included
	BaseRate   float64       // target rate without a spike
	SpikeLeft  time.Duration // time left in a spike, 0 when none
	InFlight   int64         // generator requests in flight
	Totals     Totals        // since the load started
	Latency    Quantiles     // over all completed requests since start
	Series     []Point       // one point per lab second, oldest first (at most SeriesLen)
	SecondsRun int           // complete seconds recorded, including those dropped from Series

	Nodes  []NodeSnap
	Links  []LinkSnap
	Events []Event // the newest events, oldest first (at most EventsLen)
	NEvent int     // events since start
	Knobs  []KnobSnap
	Gauges []Gauge // chapter-specific measured values
	Charts []Chart // chapter-specific series, drawn beside the load's
	Tables []Table // chapter-specific panels of figures
}

// Table is a chapter's panel of measured figures, one row per item (a
// shard's rows, req/s and p99), with an optional progress bar (a move's),
// drawn in the charts pane.
type Table struct {
	Name string   // its title, named in the UI as table.<name>
	Cols []string // the figures' names with their units, col.<name>
	Rows []TableRow
	// Progress is a task's progress from 0 to 1, drawn as a bar beside
	// ProgressText; negative when nothing is under way.
	Progress     float64
	ProgressText Text
}

// TableRow is one item of a table: its name and its figures, formatted
// (numbers only: the units are in the columns' names).
type TableRow struct {
	Name  string
	Cells []string
	Hot   bool // drawn highlighted (the busiest shard)
}

// Chart is a measured value a chapter samples once per lab second (a
// queue's depth), oldest first, at most SeriesLen values: drawn as a line
// chart under the load's throughput.
type Chart struct {
	Name   string
	Unit   string
	Values []float64
}

// SeriesLen and EventsLen bound what a snapshot carries.
const (
	SeriesLen = 300
	EventsLen = 200
)

// Totals counts generator requests by outcome.
type Totals struct {
	Sent   int64 `json:"sent"`
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
	// Unfinished were sent and had no answer yet when counted (in flight
	// at the end of a run): Sent = OK + Failed + Unfinished.
	Unfinished     int64            `json:"unfinished"`
	FailedByReason map[string]int64 `json:"failed_by_reason"`
}

// Failure reasons.
const (
	ReasonTimeout = "timeout"
	ReasonRefused = "refused"
	Reason5xx     = "5xx"
	// ReasonQueueFull is a 503 from a node whose queue was full: it turned
	// the request away without working on it (see Server.Overloaded).
	ReasonQueueFull = "queue-full"
	ReasonReset     = "reset"
	ReasonDropped   = "client-overload" // the generator's own in-flight cap
	ReasonOther     = "other"
)

// Quantiles of a latency distribution, in lab time.
type Quantiles struct {
	P50, P95, P99, Max time.Duration
	N                  int64
}

// Point is one lab second of generator results.
type Point struct {
	Sec    int // lab second index since the load started
	Sent   int64
	OK     int64
	Failed int64
	P50    time.Duration
	P99    time.Duration
}

// NodeSnap is one node's state and counters.
type NodeSnap struct {
	Name     string
	Role     Role
	Layer    Layer // where the node sits on a request's path, for drawing
	State    State
	Addr     string // private address on loopback, "" when down
	Public   bool   // reachable by clients directly
	InFlight int64
	Queued   int64
	Workers  int
	QueueCap int
	Requests int64 // handled requests since start (all outcomes)
	Errors   int64 // requests this node answered with an error or rejected
	RPS      float64
	P50, P99 time.Duration // this node's own handling latency, last 5 s
	Latency  time.Duration // injected latency
	Size     string        // modelled machine size, "" when not sized
	CostHour float64       // modelled cost per hour, 0 when not modelled
	Detail   Text          // short role-specific line (LB: policy; db: role and position)
	// Badge is a word or two the diagram draws on the node, for a role
	// that changes while the lab runs: a database's "primary" or "replica".
	Badge string
	// Partitioned is true while the node's links are cut (it is still up).
	Partitioned bool
	// Lines are the inspector's extra role-specific lines.
	Lines []Line
}

// LinkSnap is one link of the topology: From calls To.
type LinkSnap struct {
	From, To string
	Latency  time.Duration // injected latency on this link
	RPS      float64
	Up       bool // false when the LB has ejected To, or either end is down
}

// ID names a link for chaos scripts and keys: "from>to".
func (l LinkSnap) ID() string { return l.From + ">" + l.To }

// KnobSnap is a setting a chapter exposes, with its current value.
type KnobSnap struct {
	Name   string
	Value  string
	Values []string // allowed values, in cycle order; nil for free-form
}

// Gauge is a chapter-specific measured figure shown beside the charts.
type Gauge struct {
	Name     string
	Value    float64
	Unit     string // "ms", "%", "req/s", "$/h", ""
	Modelled bool   // true when the figure is modelled, not measured
	// None is true when there was nothing to measure (a latency when every
	// request failed): the gauge keeps its row and shows no figure.
	None bool
}

// Node returns the named node's snapshot.
func (s *Snapshot) Node(name string) (NodeSnap, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return NodeSnap{}, false
}

// Knob returns the value of the named knob, "" if there is none.
func (s *Snapshot) Knob(name string) string {
	for _, k := range s.Knobs {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}
