package lb

import (
	"scalelab/engine"
)

// Overrides marks draining targets as draining.
func (lb *LB) Overrides() map[string]engine.State {
	out := map[string]engine.State{}
	for _, t := range lb.Targets() {
		if t.Draining {
			out[t.Name] = engine.StateDraining
		}
	}
	return out
}
