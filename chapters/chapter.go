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
}

// Step is one guided step of a chapter. Its words (title, what to do, the
// prediction's question and choices, objective texts) live in assets under
// the same ids.
type Step struct {
	ID string
	// Build makes the step's topology and load on a new system.
	Build func(sys *engine.System, opt Options) error
	// Keys are this step's own keys beside the global ones.
	Keys []Key
	// Prediction, when set, is asked before the learner acts.
	Prediction *Prediction
	// Objectives are checked on every snapshot; once met they stay met.
	Objectives []Objective
	// Watch, when set, runs on every snapshot before the objectives, to
	// latch measured figures into Run.Facts.
	Watch func(r *Run)
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
	// Measured returns the measured value once it is known.
	Measured func(r *Run) (float64, bool)
	// Correct maps the measured value to the right choice (Choices > 0).
	Correct func(v float64) int
}

// Objective is a goal checked live from snapshots.
type Objective struct {
	ID    string
	Check func(r *Run) bool
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
