package engine

// Roles and event kinds of this component.
const (
	RoleApp Role = "app" // one server doing web and data work
	RoleWeb Role = "web" // stateless web server
)
