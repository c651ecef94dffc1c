package chapters

import "scalelab/engine"

// Scaling is chapter 2: scale up until the ceiling, the single point of
// failure, and scale out without an entry point.
func Scaling() *Chapter {
	return &Chapter{
		ID:     "scaling",
		Number: 2,
		Steps: []Step{
			{
				ID:         "scale-up",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Keys:       []Key{{Key: "z", Help: "size", Knob: "app.size"}},
				Prediction: &Prediction{ID: "cost-double", Choices: 3},
				Objectives: []Objective{
					{ID: "grow", Check: func(r *Run) bool { return false }},
					{ID: "ceiling", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:         "spof",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Prediction: &Prediction{ID: "outage-share", Unit: "%"},
				Objectives: []Objective{
					{ID: "kill", Check: func(r *Run) bool { return false }},
					{ID: "recover", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:         "scale-out",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Prediction: &Prediction{ID: "out-share", Unit: "%"},
				Objectives: []Objective{
					{ID: "kill-one", Check: func(r *Run) bool { return false }},
				},
			},
		},
	}
}
