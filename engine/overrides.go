package engine

// stateOverrider is a node that knows better than another node what state
// that node is in: a load balancer knows which of its targets are draining.
type stateOverrider interface {
	Overrides() map[string]State
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
