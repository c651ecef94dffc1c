// Targets of actions: node names, roles and aliases such as @primary.

package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownTarget is returned when an action names no node, link or role.
var ErrUnknownTarget = errors.New("unknown target")

// Alias makes "@name" resolve to whatever fn returns at the time, e.g.
// @primary to the current primary.
func (s *System) Alias(name string, fn func() []Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aliases[name] = fn
}

// Resolve turns a target into nodes: a name, an alias ("@primary"),
// "@role" (every node of the role) or "@random-role" (one up node of the
// role, picked by the seeded random source).
func (s *System) Resolve(target string) ([]Node, error) {
	s.mu.Lock()
	alias := s.aliases[strings.TrimPrefix(target, "@")]
	randAlias := s.aliases[strings.TrimPrefix(target, "@random-")]
	s.mu.Unlock()
	if alias != nil && strings.HasPrefix(target, "@") {
		if n := alias(); len(n) > 0 {
			return n, nil
		}
		return nil, fmt.Errorf("%s: no such node now: %w", target, ErrUnknownTarget)
	}
	if randAlias != nil && strings.HasPrefix(target, "@random-") {
		var up []Node
		for _, n := range randAlias() {
			if isUp(n.State()) {
				up = append(up, n)
			}
		}
		if len(up) == 0 {
			return nil, fmt.Errorf("%s: none is up: %w", target, ErrUnknownTarget)
		}
		s.mu.Lock()
		i := s.rng.IntN(len(up))
		s.mu.Unlock()
		return up[i : i+1], nil
	}
	nodes := s.Nodes()
	if role, ok := strings.CutPrefix(target, "@random-"); ok {
		var up []Node
		for _, n := range nodes {
			if string(n.Role()) == role && isUp(n.State()) {
				up = append(up, n)
			}
		}
		if len(up) == 0 {
			return nil, fmt.Errorf("%s: no %s node is up: %w", target, role, ErrUnknownTarget)
		}
		s.mu.Lock()
		i := s.rng.IntN(len(up))
		s.mu.Unlock()
		return up[i : i+1], nil
	}
	if role, ok := strings.CutPrefix(target, "@"); ok {
		var out []Node
		for _, n := range nodes {
			if string(n.Role()) == role {
				out = append(out, n)
			}
		}
		if group, _, ok := strings.Cut(role, ":"); ok && len(out) == 0 {
			// a group alias such as @dc:eu: name the ones there are
			var have []string
			s.mu.Lock()
			for a := range s.aliases {
				if strings.HasPrefix(a, group+":") {
					have = append(have, "@"+a)
				}
			}
			s.mu.Unlock()
			sort.Strings(have)
			if len(have) == 0 {
				return nil, fmt.Errorf("%s: no %s groups in this step: %w", target, group, ErrUnknownTarget)
			}
			return nil, fmt.Errorf("%s: no such group (have %s): %w", target, strings.Join(have, ", "), ErrUnknownTarget)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: no node has role %s: %w", target, role, ErrUnknownTarget)
		}
		return out, nil
	}
	for _, n := range nodes {
		if n.Name() == target {
			return []Node{n}, nil
		}
	}
	return nil, fmt.Errorf("%q: no such node (have %s): %w", target, names(nodes), ErrUnknownTarget)
}

func names(nodes []Node) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n.Name())
	}
	return b.String()
}
