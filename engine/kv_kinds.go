package engine

// Roles and event kinds of this component.
const (
	RoleKV    Role = "kv"    // key-value store (Redis)
	RoleCache Role = "cache" // cache server
)
