// Package chapters holds the lessons: for each chapter its steps, the
// topology each step builds, its keys, predictions and objectives. It has no
// TUI code; the lab and the headless runner both drive a Session.
package chapters

import (
	"errors"
	"fmt"
	"scalelab/engine"
	"strconv"
	"strings"
)

// Chapter is one lesson.
type Chapter struct {
	ID     string
	Number int
	Steps  []Step
	// Lesson returns the chapter's measured facts for the report's `lesson`
	// field and the debrief. Keys are snake_case; values are numbers,
	// strings or small maps of them.
	Lesson func(r *Run) map[string]any
	// RunTotals are the facts every step reports about its own run
	// (counters since the step began, a hit ratio over it): the report
	// carries them, the debrief, which sums the chapter up, leaves them out.
	RunTotals []string
}

// Step is one guided step of a chapter, as the lab and the runner see it.
// Its words (title, what to do, the prediction's question and choices,
// objective texts) live in assets under the same ids. A chapter defines a
// step with StepOf, which types the step's topology.
type Step struct {
	ID string
	// Keys are this step's own keys beside the global ones.
	Keys []Key
	// Prediction, when set, is asked before the learner acts.
	Prediction *Prediction
	// Objectives are checked on every snapshot; once met they stay met.
	Objectives []Objective
	// Solution meets the objectives and measures the prediction.
	Solution Solution
	// Select names the node the step's text tells the learner to act on;
	// the lab selects it when the step starts. "" selects nothing.
	Select string
	// Owns names the facts this step is about, where other steps of the
	// chapter measure them too: the debrief shows this step's figure. A fact
	// no step owns is shown from the earliest step that measured it.
	Owns []string

	// build makes the step's topology and load on a new system and binds
	// the step's watch, checks and measure to that topology.
	build func(sys *engine.System, opt Options) (*bound, error)
}

// bound is a step's hooks tied to one built topology.
type bound struct {
	watch    func(r *Run)
	checks   []func(r *Run) bool // one per Step.Objectives
	measured func(r *Run) (float64, bool)
	lesson   func(r *Run) map[string]any
}

// StepOf defines a step whose Build returns its own topology, of type T:
// the watch, the objectives and the prediction's measure receive it, typed.
type StepOf[T any] struct {
	ID string
	// Build makes the step's topology and load on a new system.
	Build func(sys *engine.System, opt Options) (T, error)
	// Keys are this step's own keys beside the global ones.
	Keys []Key
	// Prediction, when set, is asked before the learner acts.
	Prediction *PredictionOf[T]
	// Objectives are checked on every snapshot; once met they stay met.
	Objectives []ObjectiveOf[T]
	// Solution is the step's worked answer: timed actions that meet every
	// objective and measure the prediction.
	Solution Solution
	// Watch, when set, runs on every snapshot before the objectives, to
	// latch measured figures into Run.Facts.
	Watch func(r *Run, t T)
	// Lesson, when set, gives this step's measured facts in place of the
	// chapter's Lesson, for facts read from the topology itself.
	Lesson func(r *Run, t T) map[string]any
	// Select names the node the step's text tells the learner to act on;
	// the lab selects it when the step starts. "" selects nothing.
	Select string
	// Owns names the facts this step is about (Step.Owns).
	Owns []string
}

// Steps makes the steps of a chapter whose steps share one topology type.
func Steps[T any](defs ...StepOf[T]) []Step {
	out := make([]Step, len(defs))
	for i, d := range defs {
		out[i] = d.Step()
	}
	return out
}

// PredictionOf is a step's prediction with its measure.
type PredictionOf[T any] struct {
	ID string
	// Choices is the number of choices (their words are in assets); 0 asks
	// for a number.
	Choices int
	Unit    string
	// Measured returns the measured value once it is known.
	Measured func(r *Run, t T) (float64, bool)
	// Correct maps the measured value to the right choice (Choices > 0).
	Correct func(v float64) int
	// Hides names the gauges that show the answer (as kit.LeadGauges
	// matches names): the lab shows them once the prediction is answered
	// or skipped.
	Hides []string
}

// ObjectiveOf is a goal checked live from snapshots.
type ObjectiveOf[T any] struct {
	ID    string
	Check func(r *Run, t T) bool
}

// Step makes the step the lab and the runner use.
func (d StepOf[T]) Step() Step {
	st := Step{ID: d.ID, Keys: d.Keys, Solution: d.Solution, Select: d.Select, Owns: d.Owns}
	if p := d.Prediction; p != nil {
		st.Prediction = &Prediction{ID: p.ID, Choices: p.Choices, Unit: p.Unit, Correct: p.Correct, Hides: p.Hides}
	}
	for _, o := range d.Objectives {
		st.Objectives = append(st.Objectives, Objective{ID: o.ID})
	}
	st.build = func(sys *engine.System, opt Options) (*bound, error) {
		t, err := d.Build(sys, opt)
		if err != nil {
			return nil, err
		}
		b := &bound{}
		if d.Watch != nil {
			b.watch = func(r *Run) { d.Watch(r, t) }
		}
		for _, o := range d.Objectives {
			check := o.Check
			b.checks = append(b.checks, func(r *Run) bool { return check(r, t) })
		}
		if p := d.Prediction; p != nil && p.Measured != nil {
			b.measured = func(r *Run) (float64, bool) { return p.Measured(r, t) }
		}
		if d.Lesson != nil {
			b.lesson = func(r *Run) map[string]any { return d.Lesson(r, t) }
		}
		return b, nil
	}
	return st
}

// Key is a chapter-specific key.
type Key struct {
	Key  string // as bubbletea names it: "p", "ctrl+d"
	Help string // a short label for the help line, e.g. "policy"
	// Knob, when set, makes the key cycle this knob through its values.
	Knob string
	// Action, when Knob is empty, is sent with Target, or with the selected
	// node when Target is empty.
	Action engine.Kind
	Target string
}

// Prediction asks the learner to guess before acting, then shows the
// measured value beside the guess.
type Prediction struct {
	ID string
	// Choices is the number of choices (their words are in assets); 0 asks
	// for a number.
	Choices int
	Unit    string
	// Correct maps the measured value to the right choice (Choices > 0).
	Correct func(v float64) int
	// Hides names the gauges that show the answer, hidden until it is given.
	Hides []string
}

// GaugeHidden reports whether the gauge named name shows the prediction's
// answer: its name is one Hides names, or ends in one after a space.
func (p *Prediction) GaugeHidden(name string) bool {
	if p == nil {
		return false
	}
	for _, h := range p.Hides {
		if name == h || strings.HasSuffix(name, " "+h) {
			return true
		}
	}
	return false
}

// FactOwner is the index of the step that owns fact key (Step.Owns), or
// -1 when none does.
func (c *Chapter) FactOwner(key string) int {
	for i, st := range c.Steps {
		for _, k := range st.Owns {
			if k == key {
				return i
			}
		}
	}
	return -1
}

// Objective is a goal of a step, checked live from snapshots.
type Objective struct {
	ID string
}

// Options are what a learner or a runner can change about a step.
type Options struct {
	// Rate overrides the step's arrival rate when > 0.
	Rate float64
	// Seed makes the load and random targets repeatable.
	Seed int64
	// Speed, when > 0, is the lab clock's speed (0.25 to 4).
	Speed float64
}

// ErrUnknownChapter is returned by Find.
var ErrUnknownChapter = errors.New("unknown chapter")

// Find returns a chapter of the course by id or number.
func Find(course []*Chapter, s string) (*Chapter, error) {
	if n, err := strconv.Atoi(s); err == nil {
		for _, c := range course {
			if c.Number == n {
				return c, nil
			}
		}
	}
	for _, c := range course {
		if strings.EqualFold(c.ID, s) {
			return c, nil
		}
	}
	var ids []string
	for _, c := range course {
		ids = append(ids, fmt.Sprintf("%d %s", c.Number, c.ID))
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownChapter, s, strings.Join(ids, ", "))
}
