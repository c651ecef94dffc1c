package sqldb

// Seedings is how many seeded templates this process has made.
func Seedings() int {
	templates.Lock()
	defer templates.Unlock()
	return templates.seedings
}
