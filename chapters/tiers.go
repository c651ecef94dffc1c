package chapters

import (
	"errors"

	"scalelab/engine"
)

var errTODO = errors.New("being built")

// Tiers is chapter 1: one server doing web and data work, split into tiers;
// SQL vs key-value on the same data.
func Tiers() *Chapter {
	return &Chapter{
		ID:     "tiers",
		Number: 1,
		Steps: []Step{
			{
				ID:         "one-box",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Keys:       []Key{{Key: "m", Help: "mix", Knob: "load.mix"}},
				Prediction: &Prediction{ID: "page-p99", Choices: 3},
				Objectives: []Objective{
					{ID: "steady", Check: func(r *Run) bool { return false }},
					{ID: "data-heavy", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:         "split",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Keys:       []Key{{Key: "m", Help: "mix", Knob: "load.mix"}, {Key: "d", Help: "db size", Knob: "db.size"}},
				Prediction: &Prediction{ID: "split-page-p99", Choices: 3},
				Objectives: []Objective{
					{ID: "data-heavy-split", Check: func(r *Run) bool { return false }},
					{ID: "size-db", Check: func(r *Run) bool { return false }},
				},
			},
			{
				ID:         "sql-vs-kv",
				Build:      func(sys *engine.System, opt Options) error { return errTODO },
				Keys:       []Key{{Key: "k", Help: "store", Knob: "data.store"}},
				Prediction: &Prediction{ID: "feed-faster", Choices: 3},
				Objectives: []Objective{
					{ID: "both-stores", Check: func(r *Run) bool { return false }},
					{ID: "write-cost", Check: func(r *Run) bool { return false }},
				},
			},
		},
	}
}
