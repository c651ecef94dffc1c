package engine

// Overrides marks draining targets as draining.
func (lb *LB) Overrides() map[string]State {
	out := map[string]State{}
	for _, t := range lb.Targets() {
		if t.Draining {
			out[t.Name] = StateDraining
		}
	}
	return out
}
