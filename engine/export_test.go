package engine

// Publish lets the external tests publish a snapshot at once.
func (s *System) Publish() { s.publish() }

// Rejected counts requests turned away because the queue was full.
func (c *Capacity) Rejected() int64 { return c.rejected.Load() }

// Failed returns an op's failures.
func (m *Meter) Failed(op Op) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fails[op]
}
