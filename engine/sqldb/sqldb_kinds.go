package sqldb

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleDB engine.Role = "db" // SQLite database server
)
