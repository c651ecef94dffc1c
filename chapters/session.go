package chapters

import (
	"fmt"
	"time"

	"scalelab/engine"
)

// Run is what a step has observed so far: every snapshot's series and
// events, and every action the learner or a script sent. Objectives,
// predictions and lesson facts read it. A Run is used from one goroutine.
type Run struct {
	Sys     *engine.System
	Latest  engine.Snapshot
	Series  []engine.Point // every complete second since the load started
	Events  []engine.Event // every event since the step started
	Actions []ActionRecord
	// Facts are figures a chapter latches while the step runs (e.g. p99
	// under each policy), kept for the lesson and the debrief.
	Facts map[string]float64

	seenEvents int
}

// ActionRecord is one action applied, and when.
type ActionRecord struct {
	T      time.Duration
	Action engine.Action
	Err    error
}

func newRun(sys *engine.System) *Run {
	return &Run{Sys: sys, Facts: map[string]float64{}}
}

func (r *Run) observe(s engine.Snapshot) {
	r.Latest = s
	for _, p := range s.Series {
		switch {
		case p.Sec < len(r.Series):
			r.Series[p.Sec] = p
		case p.Sec == len(r.Series):
			r.Series = append(r.Series, p)
		default: // a gap (should not happen): pad with empty seconds
			for len(r.Series) < p.Sec {
				r.Series = append(r.Series, engine.Point{Sec: len(r.Series)})
			}
			r.Series = append(r.Series, p)
		}
	}
	if n := s.NEvent - r.seenEvents; n > 0 {
		if n > len(s.Events) {
			n = len(s.Events)
		}
		r.Events = append(r.Events, s.Events[len(s.Events)-n:]...)
		r.seenEvents = s.NEvent
	}
}

// Now is the lab time of the latest snapshot.
func (r *Run) Now() time.Duration { return r.Latest.T }

// Window sums the series over lab seconds [from, to).
func (r *Run) Window(from, to int) (sent, ok, failed int64, maxP99 time.Duration) {
	if from < 0 {
		from = 0
	}
	for i := from; i < to && i < len(r.Series); i++ {
		p := r.Series[i]
		sent += p.Sent
		ok += p.OK
		failed += p.Failed
		if p.P99 > maxP99 {
			maxP99 = p.P99
		}
	}
	return
}

// FailRatio is failed / (ok + failed) over lab seconds [from, to), and how
// many requests finished in them.
func (r *Run) FailRatio(from, to int) (ratio float64, done int64) {
	_, ok, failed, _ := r.Window(from, to)
	done = ok + failed
	if done == 0 {
		return 0, 0
	}
	return float64(failed) / float64(done), done
}

// Seconds is how many complete seconds of load the run has.
func (r *Run) Seconds() int { return len(r.Series) }

// LoadSec converts a lab time to a load-second index.
func (r *Run) LoadSec(t time.Duration) int {
	// the load starts with the system, so lab time and load time agree
	// to within one tick
	return int(t / time.Second)
}

// LastEvent returns the newest event of a kind (and node, when not "").
func (r *Run) LastEvent(kind, node string) (engine.Event, bool) {
	for i := len(r.Events) - 1; i >= 0; i-- {
		e := r.Events[i]
		if e.Kind == kind && (node == "" || e.Node == node) {
			return e, true
		}
	}
	return engine.Event{}, false
}

// EventsOf returns every event of a kind.
func (r *Run) EventsOf(kind string) []engine.Event {
	var out []engine.Event
	for _, e := range r.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// Session is one step of one chapter, running.
type Session struct {
	Chapter *Chapter
	Index   int
	Step    *Step
	Sys     *engine.System
	Run     *Run
	met     map[string]bool
}

// Open builds and starts a step. The caller must Close it.
func Open(ch *Chapter, index int, opt Options) (*Session, error) {
	if index < 0 || index >= len(ch.Steps) {
		return nil, fmt.Errorf("%s has steps 1 to %d, not %d", ch.ID, len(ch.Steps), index+1)
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	sys, err := engine.NewSystem(opt.Seed)
	if err != nil {
		return nil, err
	}
	step := &ch.Steps[index]
	if err := step.Build(sys, opt); err != nil {
		_ = sys.Close()
		return nil, fmt.Errorf("%s step %d: %w", ch.ID, index+1, err)
	}
	sys.Start()
	return &Session{Chapter: ch, Index: index, Step: step, Sys: sys, Run: newRun(sys), met: map[string]bool{}}, nil
}

// Observe takes a snapshot into the run and checks the objectives; it
// returns the ids of objectives met by this snapshot.
func (s *Session) Observe(snap engine.Snapshot) []string {
	s.Run.observe(snap)
	var newly []string
	for _, o := range s.Step.Objectives {
		if !s.met[o.ID] && o.Check(s.Run) {
			s.met[o.ID] = true
			newly = append(newly, o.ID)
		}
	}
	return newly
}

// Met reports whether an objective has been met.
func (s *Session) Met(id string) bool { return s.met[id] }

// AllMet reports whether every objective of the step is met.
func (s *Session) AllMet() bool {
	for _, o := range s.Step.Objectives {
		if !s.met[o.ID] {
			return false
		}
	}
	return true
}

// Apply checks and applies an action and records it in the run.
func (s *Session) Apply(a engine.Action) error {
	err := s.Sys.Apply(a)
	s.Run.Actions = append(s.Run.Actions, ActionRecord{T: s.Sys.Clock.Now(), Action: a, Err: err})
	return err
}

// Measured returns the prediction's measured value, if the step has one and
// it is known.
func (s *Session) Measured() (float64, bool) {
	p := s.Step.Prediction
	if p == nil || p.Measured == nil {
		return 0, false
	}
	return p.Measured(s.Run)
}

// Lesson returns the chapter's measured facts for this run.
func (s *Session) Lesson() map[string]any {
	if s.Chapter.Lesson == nil {
		return map[string]any{}
	}
	return s.Chapter.Lesson(s.Run)
}

// Close stops the step's system and removes its files.
func (s *Session) Close() error { return s.Sys.Close() }
