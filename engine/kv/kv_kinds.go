package kv

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleKV    engine.Role = "kv"    // key-value store (Redis)
	RoleCache engine.Role = "cache" // cache server
)
