package engine

// Roles and event kinds of this component.
const (
	RoleDB Role = "db" // SQLite database server
)
