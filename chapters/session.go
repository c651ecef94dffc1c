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
	knobs      []knobSample // knob values at each observed snapshot
	knobTime   map[string]time.Duration
}

type knobSample struct {
	T    time.Duration
	Vals map[string]string
}

// ActionRecord is one action applied, and when.
type ActionRecord struct {
	T      time.Duration
	Action engine.Action
	Err    error
}

func newRun(sys *engine.System) *Run {
	return &Run{Sys: sys, Facts: map[string]float64{}, knobTime: map[string]time.Duration{}}
}

func (r *Run) observe(s engine.Snapshot) {
	if len(r.knobs) > 0 && s.Totals.Sent > 0 {
		prev := r.knobs[len(r.knobs)-1]
		for k, v := range prev.Vals {
			r.knobTime[k+"="+v] += s.T - prev.T
		}
	}
	vals := make(map[string]string, len(s.Knobs))
	for _, k := range s.Knobs {
		vals[k.Name] = k.Value
	}
	r.knobs = append(r.knobs, knobSample{T: s.T, Vals: vals})
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

// KnobTime is how long, in lab time under load, a knob has had a value.
func (r *Run) KnobTime(name, value string) time.Duration { return r.knobTime[name+"="+value] }

// Held reports whether the knobs have had these values (name, value, name,
// value, ...) continuously for the last d of lab time, under load.
func (r *Run) Held(d time.Duration, kv ...string) bool {
	if len(r.knobs) == 0 || r.Latest.Totals.Sent == 0 {
		return false
	}
	now := r.knobs[len(r.knobs)-1].T
	for i := len(r.knobs) - 1; i >= 0; i-- {
		k := r.knobs[i]
		for j := 0; j+1 < len(kv); j += 2 {
			if k.Vals[kv[j]] != kv[j+1] {
				return false
			}
		}
		if now-k.T >= d {
			return true
		}
	}
	return false
}

// KnobAt is a knob's value at lab time t (its first observed value before
// the first snapshot).
func (r *Run) KnobAt(name string, t time.Duration) string {
	v := ""
	for _, k := range r.knobs {
		if k.T > t && v != "" {
			break
		}
		v = k.Vals[name]
	}
	return v
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

// LastEvent returns the newest event of a kind (and node, when not "").
func (r *Run) LastEvent(kind engine.EventKind, node string) (engine.Event, bool) {
	for i := len(r.Events) - 1; i >= 0; i-- {
		e := r.Events[i]
		if e.Kind == kind && (node == "" || e.Node == node) {
			return e, true
		}
	}
	return engine.Event{}, false
}

// EventsOf returns every event of a kind.
func (r *Run) EventsOf(kind engine.EventKind) []engine.Event {
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
	hooks   *bound
}

// Open builds and starts a step. The caller must Close it.
func Open(ch *Chapter, index int, opt Options) (*Session, error) {
	s, err := Build(ch, index, opt)
	if err != nil {
		return nil, err
	}
	s.Start()
	return s, nil
}

// Start starts the load and the snapshots of a session made by Build.
func (s *Session) Start() { s.Sys.Start() }

// Build builds a step's topology without starting the load, so that a
// chaos script can be checked against it first. The caller must Close it.
func Build(ch *Chapter, index int, opt Options) (*Session, error) {
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
	if opt.Speed > 0 {
		if err := sys.Clock.SetSpeed(opt.Speed); err != nil {
			_ = sys.Close()
			return nil, err
		}
	}
	step := &ch.Steps[index]
	hooks, err := step.build(sys, opt)
	if err != nil {
		_ = sys.Close()
		return nil, fmt.Errorf("%s step %d: %w", ch.ID, index+1, err)
	}
	return &Session{Chapter: ch, Index: index, Step: step, Sys: sys, Run: newRun(sys), met: map[string]bool{}, hooks: hooks}, nil
}

// Observe takes a snapshot into the run and checks the objectives; it
// returns the ids of objectives met by this snapshot.
func (s *Session) Observe(snap engine.Snapshot) []string {
	s.Run.observe(snap)
	if s.hooks.watch != nil {
		s.hooks.watch(s.Run)
	}
	var newly []string
	for i, o := range s.Step.Objectives {
		if !s.met[o.ID] && s.hooks.checks[i](s.Run) {
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
	if s.hooks.measured == nil {
		return 0, false
	}
	return s.hooks.measured(s.Run)
}

// Lesson returns the chapter's measured facts for this run.
func (s *Session) Lesson() map[string]any {
	if s.hooks.lesson != nil {
		return s.hooks.lesson(s.Run)
	}
	if s.Chapter.Lesson == nil {
		return map[string]any{}
	}
	return s.Chapter.Lesson(s.Run)
}

// Close stops the step's system and removes its files.
func (s *Session) Close() error { return s.Sys.Close() }
