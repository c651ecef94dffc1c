package lb

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleLB    engine.Role = "lb"      // load balancer
	EvEject               = "eject"   // LB health check took a target out
	EvRejoin              = "rejoin"  // LB health check put a target back
	EvRemove              = "remove"  // a node left
	EvDrain               = "drain"   // a node started draining
	EvDrained             = "drained" // a draining node has no requests left
)
