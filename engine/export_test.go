package engine

// Publish lets the external tests publish a snapshot at once.
func (s *System) Publish() { s.publish() }
