package web

import (
	"scalelab/engine"
)

// Roles and event kinds of this component.
const (
	RoleApp engine.Role = "app" // one server doing web and data work
	RoleWeb engine.Role = "web" // stateless web server
)
