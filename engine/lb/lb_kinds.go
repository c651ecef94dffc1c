package lb

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleLB    engine.Role      = "lb"      // load balancer
	EvEject   engine.EventKind = "eject"   // LB health check took a target out
	EvRejoin  engine.EventKind = "rejoin"  // LB health check put a target back
	EvRemove  engine.EventKind = "remove"  // a node left
	EvDrain   engine.EventKind = "drain"   // a node started draining
	EvDrained engine.EventKind = "drained" // a draining node has no requests left
)
