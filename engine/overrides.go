package engine

// stateOverrider is a node that knows better than another node what state
// that node is in: a load balancer knows which of its targets are draining.
type stateOverrider interface {
	Overrides() map[string]State
}

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

func applyOverrides(nodes []Node, snaps []NodeSnap) {
	for _, n := range nodes {
		o, ok := n.(stateOverrider)
		if !ok {
			continue
		}
		for name, st := range o.Overrides() {
			for i := range snaps {
				if snaps[i].Name == name && isUp(snaps[i].State) {
					snaps[i].State = st
				}
			}
		}
	}
}
