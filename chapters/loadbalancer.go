package chapters

import "scalelab/engine"

// LoadBalancer is chapter 3: one public entry, private web servers, policies,
// health checks, retries, adding and draining targets.
func LoadBalancer() *Chapter {
	return &Chapter{
		ID:     "loadbalancer",
		Number: 3,
		Steps: []Step{
			{
				ID:         "policies",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Keys:       []Key{{Key: "p", Help: "policy", Knob: "lb.policy"}},
				Prediction: &Prediction{ID: "best-policy", Choices: 3},
				Objectives: []Objective{
					{ID: "try-rr", Check: func(r *Run) bool { return false }},
					{ID: "try-lc", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:    "health",
				Build: func(sys *engine.System, opt Options) error { return errTODO },
				Keys: []Key{
					{Key: "c", Help: "health checks", Knob: "lb.health"},
					{Key: "t", Help: "retries", Knob: "lb.retries"},
				},
				Prediction: &Prediction{ID: "unprotected-share", Unit: "%"},
				Objectives: []Objective{
					{ID: "kill-unprotected", Check: func(r *Run) bool { return false }},
					{ID: "kill-protected", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:    "elastic",
				Build: func(sys *engine.System, opt Options) error { return errTODO },
				Keys: []Key{
					{Key: "a", Help: "add web", Action: engine.ActAdd, Target: "web"},
					{Key: "d", Help: "drain", Action: engine.ActDrain},
				},
				Objectives: []Objective{
					{ID: "add", Check: func(r *Run) bool { return false }},
					{ID: "drain", Check: func(r *Run) bool { return false }},
				},
			},
		},
	}
}
