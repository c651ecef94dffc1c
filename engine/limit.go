package engine

import "fmt"

// LimitNodes caps how many nodes of role an `add ROLE` may grow the
// topology to. Check refuses an add beyond it, before the add's handler
// runs, and a chaos script's check counts the script's own earlier adds
// against it (NodeLimit).
func (s *System) LimitNodes(role Role, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits == nil {
		s.limits = map[Role]int{}
	}
	s.limits[role] = n
}

// NodeLimit returns role's limit and how many nodes of role there are now;
// ok is false when role has no limit.
func (s *System) NodeLimit(role Role) (limit, have int, ok bool) {
	s.mu.Lock()
	limit, ok = s.limits[role]
	for _, n := range s.nodes {
		if n.Role() == role {
			have++
		}
	}
	s.mu.Unlock()
	return limit, have, ok
}

// LimitError is the refusal of an add that would pass a role's limit.
func LimitError(role Role, limit int) error {
	return fmt.Errorf("add %s: %d %s nodes is this lab's limit: %w", role, limit, role, ErrNotSupported)
}

// checkLimit refuses an add of a role at its limit.
func (s *System) checkLimit(a Action) error {
	if limit, have, ok := s.NodeLimit(Role(a.Target)); ok && have >= limit {
		return LimitError(Role(a.Target), limit)
	}
	return nil
}
