package chapters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"scalelab/engine"
)

// RunConfig is a headless run of one chapter step.
type RunConfig struct {
	Chapter  *Chapter
	Step     int // 0-based
	Duration time.Duration
	Options  Options
	Script   []engine.Timed
	// ScriptName names the script in errors ("chaos" or the file name).
	ScriptName string
	// Status, when not nil, gets a status line every lab second.
	Status io.Writer
}

// Report is the result of a headless run; its JSON form is the contract of
// `scalelab run --json`.
type Report struct {
	Chapter    string          `json:"chapter"`
	Step       string          `json:"step"`
	StepNumber int             `json:"step_number"`
	DurationS  float64         `json:"duration_s"`
	Rate       float64         `json:"rate"`
	Seed       int64           `json:"seed"`
	Requests   engine.Totals   `json:"requests"`
	LatencyMs  LatencyMs       `json:"latency_ms"`
	Events     []engine.Event  `json:"events"`
	Nodes      []NodeReport    `json:"nodes"`
	Lesson     map[string]any  `json:"lesson"`
	Objectives []ObjectiveMet  `json:"objectives"`
	Prediction *PredictionFact `json:"prediction,omitempty"`
	Series     []engine.Point  `json:"-"`
	Stopped    bool            `json:"stopped_early,omitempty"`
}

// LatencyMs are latency quantiles in milliseconds.
type LatencyMs struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// NodeReport is one node at the end of a run.
type NodeReport struct {
	Name     string  `json:"name"`
	Role     string  `json:"role"`
	State    string  `json:"state"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Size     string  `json:"size,omitempty"`
	CostHour float64 `json:"cost_per_hour_modelled,omitempty"`
}

// ObjectiveMet says whether an objective was met.
type ObjectiveMet struct {
	ID  string `json:"id"`
	Met bool   `json:"met"`
}

// PredictionFact is the measured value a step's prediction asks about.
type PredictionFact struct {
	ID       string  `json:"id"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit,omitempty"`
	Correct  *int    `json:"correct_choice,omitempty"` // from 1, as on screen
}

// ErrBadTarget wraps a chaos line whose target, knob or value does not
// exist in the step's topology.
var ErrBadTarget = errors.New("bad chaos target")

// Headless runs a step without a TUI: it builds the topology, checks the
// script against it (nothing starts if a line is wrong), runs the load for
// the duration applying the script on the lab clock, and reports. A
// cancelled ctx ends the run early with a report of what was measured.
func Headless(ctx context.Context, cfg RunConfig) (*Report, error) {
	s, err := Build(cfg.Chapter, cfg.Step, cfg.Options)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	name := cfg.ScriptName
	if name == "" {
		name = "chaos"
	}
	if err := checkScript(s.Sys, name, cfg.Script); err != nil {
		return nil, err
	}
	if err := checkTimes(name, cfg.Script, cfg.Duration); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	snaps := s.Sys.Subscribe()
	s.Start()
	clock := s.Sys.Clock
	script := cfg.Script
	nextStatus := time.Second
	printed := -1 // the last second a status line showed
	stopped := false
	// Script lines are timed in script time: lab time plus the time the
	// clock stood paused (a pause at 5 s and a resume at 8 s hold the lab
	// still for 3 s). --duration counts lab time.
	var pausedFor time.Duration
	apply := func() {
		for len(script) > 0 && script[0].At <= clock.Now()+pausedFor {
			t := script[0]
			script = script[1:]
			if err := s.Apply(t.Action); err != nil {
				s.Sys.Events.Add(engine.EvInfo, "chaos", engine.Textf("chaos.failed", "line %d: %s: %v", t.Line, t.Action, err))
			}
		}
	}
	for clock.Now() < cfg.Duration && !stopped {
		if clock.Paused() && len(script) > 0 {
			// the lab clock stands still: wait for the next line (the
			// resume checkTimes found) in real time
			gap := script[0].At - (clock.Now() + pausedFor)
			timer := time.NewTimer(time.Duration(float64(max(gap, 0)) / clock.Speed()))
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				stopped = true
			}
			pausedFor += max(gap, 0)
			apply()
			continue
		}
		// wake for the next script line, status line or end, whichever first
		wake := cfg.Duration
		if len(script) > 0 && script[0].At-pausedFor < wake {
			wake = script[0].At - pausedFor
		}
		if nextStatus < wake {
			wake = nextStatus
		}
		waitCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- clock.SleepUntil(waitCtx, wake) }()
	wait:
		for {
			select {
			case snap := <-snaps:
				s.Observe(snap)
			case err := <-done:
				if err != nil {
					stopped = true
				}
				break wait
			}
		}
		cancel()
		apply()
		if now := clock.Now(); now >= nextStatus {
			// one line per finished second, in order, never twice
			if snap := s.Sys.Snapshot(); cfg.Status != nil {
				for _, p := range snap.Series {
					if p.Sec > printed && time.Duration(p.Sec+1)*time.Second <= snap.T {
						fmt.Fprintln(cfg.Status, StatusLine(snap, p))
						printed = p.Sec
					}
				}
			}
			nextStatus = now.Truncate(time.Second) + time.Second
		}
	}
	final := s.Sys.Snapshot()
	s.Observe(final)
	rep := report(s, final, cfg)
	rep.Stopped = stopped
	return rep, nil
}

// checkTimes refuses a script that pauses the clock and never resumes it
// (headless, nothing else would), and a line timed past the run's end
// (script time counts the pauses; the duration is lab time).
func checkTimes(name string, script []engine.Timed, dur time.Duration) error {
	var open *engine.Timed
	var paused time.Duration
	for i, t := range script {
		if t.At-paused >= dur {
			return &engine.ScriptError{Name: name, Line: t.Line, Msg: fmt.Sprintf("at %s: past the end of the run (%s of lab time)", t.At, dur)}
		}
		switch t.Action.Kind {
		case engine.ActPause:
			if open == nil {
				open = &script[i]
			}
		case engine.ActResume:
			if open != nil {
				paused += t.At - open.At
			}
			open = nil
		}
	}
	if open != nil {
		return &engine.ScriptError{Name: name, Line: open.Line, Msg: "pause with no later resume: the run would never end"}
	}
	return nil
}

// StatusLine is the one-line summary of one finished second p, with the
// nodes' states now.
func StatusLine(s engine.Snapshot, last engine.Point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5ds  rate %5.0f/s  ok %5d  failed %4d  p50 %6.1fms  p99 %7.1fms ", last.Sec+1, s.Rate, last.OK, last.Failed, engine.Ms(last.P50), engine.Ms(last.P99))
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, " %s:%s", n.Name, n.State)
	}
	return b.String()
}

func report(s *Session, snap engine.Snapshot, cfg RunConfig) *Report {
	rep := &Report{
		Chapter:    s.Chapter.ID,
		Step:       s.Step.ID,
		StepNumber: s.Index + 1,
		DurationS:  Round1(snap.T.Seconds()),
		Rate:       snap.BaseRate,
		Seed:       cfg.Options.Seed,
		Requests:   snap.Totals,
		LatencyMs:  LatencyMs{P50: engine.Ms(snap.Latency.P50), P95: engine.Ms(snap.Latency.P95), P99: engine.Ms(snap.Latency.P99), Max: engine.Ms(snap.Latency.Max)},
		Events:     s.Run.Events,
		Lesson:     s.Lesson(),
		Series:     s.Run.Series,
	}
	if rep.Events == nil {
		rep.Events = []engine.Event{}
	}
	if rep.Seed == 0 {
		rep.Seed = 1
	}
	for _, n := range snap.Nodes {
		rep.Nodes = append(rep.Nodes, NodeReport{Name: n.Name, Role: string(n.Role), State: string(n.State), Requests: n.Requests, Errors: n.Errors, Size: n.Size, CostHour: n.CostHour})
	}
	for _, o := range s.Step.Objectives {
		rep.Objectives = append(rep.Objectives, ObjectiveMet{ID: o.ID, Met: s.Met(o.ID)})
	}
	if p := s.Step.Prediction; p != nil {
		if v, ok := s.Measured(); ok {
			f := &PredictionFact{ID: p.ID, Measured: v, Unit: p.Unit}
			if p.Correct != nil && p.Choices > 0 {
				c := p.Correct(v) + 1 // counted from 1, as the screen numbers the choices
				f.Correct = &c
			}
			rep.Prediction = f
		}
	}
	return rep
}

// Text renders a report for people.
// factText writes a measured fact for the text report: a number as is,
// a map as "key value" pairs in key order, a list joined (the first 8 of
// a long one), an empty list as "none".
func factText(v any) string {
	switch x := v.(type) {
	case []string:
		switch {
		case len(x) == 0:
			return "none"
		case len(x) > 8:
			return fmt.Sprintf("%s … (%d in all; --json lists every one)", strings.Join(x[:8], " "), len(x))
		}
		return strings.Join(x, " ")
	case map[string]float64:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %g", k, x[k])
		}
		return strings.Join(parts, " · ")
	}
	return fmt.Sprint(v)
}

func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scalelab run %s (step %d: %s) · %.1fs at %.0f req/s · seed %d\n", r.Chapter, r.StepNumber, r.Step, r.DurationS, r.Rate, r.Seed)
	if r.Stopped {
		b.WriteString("stopped early: the figures cover the time that ran\n")
	}
	q := r.Requests
	fmt.Fprintf(&b, "\nrequests  sent %d  ok %d  failed %d (%.2f%%)  unfinished %d\n", q.Sent, q.OK, q.Failed, Pct(q.Failed, q.OK+q.Failed), q.Unfinished)
	var reasons []string
	for k, v := range q.FailedByReason {
		reasons = append(reasons, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		fmt.Fprintf(&b, "          failed by reason: %s\n", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(&b, "latency   p50 %.1fms  p95 %.1fms  p99 %.1fms  max %.1fms\n", r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.LatencyMs.Max)
	b.WriteString("\nnodes\n")
	nw, rw := 8, 5
	for _, n := range r.Nodes {
		nw, rw = max(nw, len(n.Name)), max(rw, len(n.Role))
	}
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, "  %-*s %-*s %-10s requests %-7d errors %d", nw, n.Name, rw, n.Role, n.State, n.Requests, n.Errors)
		if n.Size != "" {
			fmt.Fprintf(&b, "  size %s ($%.2f/h modelled)", n.Size, n.CostHour)
		}
		b.WriteString("\n")
	}
	if len(r.Lesson) > 0 {
		b.WriteString("\nmeasured\n")
		var keys []string
		for k := range r.Lesson {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kw := 28
		for _, k := range keys {
			kw = max(kw, len(k))
		}
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-*s %s\n", kw, k, factText(r.Lesson[k]))
		}
	}
	if r.Prediction != nil {
		unit := r.Prediction.Unit
		if len([]rune(unit)) > 1 && unit != "ms" {
			unit = " " + unit
		}
		fmt.Fprintf(&b, "\nprediction %s: measured %g%s", r.Prediction.ID, r.Prediction.Measured, unit)
		if c := r.Prediction.Correct; c != nil {
			fmt.Fprintf(&b, " (choice %d is right)", *c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nobjectives\n")
	for _, o := range r.Objectives {
		mark := "·"
		if o.Met {
			mark = "✓"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, o.ID)
	}
	if len(r.Events) > 0 {
		b.WriteString("\nevents\n")
		for _, e := range r.Events {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return b.String()
}

// checkScript checks every line against the topology before anything
// starts: targets, knobs and their values, and what the topology's
// components can add, remove and drain. A line may name a node an earlier
// add line creates.
func checkScript(sys *engine.System, name string, script []engine.Timed) error {
	plan := scriptAdds{sys: sys, adds: map[string]int{}}
	for _, t := range script {
		if err := sys.Check(t.Action); err != nil && !plan.creates(t.Action, err) {
			return fmt.Errorf("%w: %w", ErrBadTarget, &engine.ScriptError{Name: name, Line: t.Line, Msg: err.Error()})
		}
		if t.Action.Kind == engine.ActAdd {
			role := engine.Role(t.Action.Target)
			if limit, have, ok := sys.NodeLimit(role); ok && have+plan.adds[t.Action.Target] >= limit {
				return fmt.Errorf("%w: %w", ErrBadTarget, &engine.ScriptError{Name: name, Line: t.Line,
					Msg: fmt.Sprintf("add %s: %d %s nodes is this lab's limit (%d now, %d added by earlier lines)", role, limit, role, have, plan.adds[t.Action.Target])})
			}
			plan.count(t.Action.Target)
		}
	}
	return nil
}

// scriptAdds counts the nodes a script's add lines create, by role.
type scriptAdds struct {
	sys  *engine.System
	adds map[string]int
}

// count records an add of what. An add named by an alias makes a node
// named like the alias's nodes now: `add replica` makes db-N (and @replica
// names it, replica-N does not).
func (p scriptAdds) count(what string) {
	if nodes, err := p.sys.Resolve("@" + what); err == nil && len(nodes) > 0 {
		name := nodes[0].Name()
		if i := strings.LastIndexByte(name, '-'); i > 0 && name[:i] != what {
			p.adds[name[:i]]++
			p.adds["@"+what]++
			return
		}
	}
	p.adds[what]++
}

// creates reports whether an unknown target names what earlier add lines
// create: a node ROLE-N (cache-2 after `add cache`), a link to one
// (lb-1>web-4 after `add web`), @ROLE, or a group with one in it.
func (p scriptAdds) creates(a engine.Action, err error) bool {
	if !errors.Is(err, engine.ErrUnknownTarget) || a.Target == "" {
		return false
	}
	sep := ","
	if a.Kind == engine.ActLatency {
		sep = ">"
	}
	created := false
	for _, t := range strings.Split(a.Target, sep) {
		switch {
		case p.mayCreate(t):
			created = true
		case sep == ">" && !strings.HasPrefix(t, "@"):
			if _, ok := p.sys.Node(t); !ok {
				return false
			}
		case sep == ",":
			if _, err := p.sys.Resolve(t); err != nil {
				return false
			}
		default:
			return false
		}
	}
	return created
}

// mayCreate reports whether target is a node earlier add lines may create
// and not there now: ROLE-N with N at most the ROLE-N nodes now plus the adds of ROLE so far
// (each add takes the smallest free N), or @ROLE, @random-ROLE.
func (p scriptAdds) mayCreate(target string) bool {
	if role, ok := strings.CutPrefix(target, "@"); ok {
		role = strings.TrimPrefix(role, "random-")
		return p.adds[role] > 0 || p.adds["@"+role] > 0
	}
	i := strings.LastIndexByte(target, '-')
	if i < 0 {
		return false
	}
	role := target[:i]
	n, err := strconv.Atoi(target[i+1:])
	if err != nil || n < 1 || p.adds[role] == 0 {
		return false
	}
	if _, ok := p.sys.Node(target); ok {
		return false // there now: an unknown link to it is not an add's
	}
	have := 0
	for _, node := range p.sys.Nodes() {
		if j := strings.LastIndexByte(node.Name(), '-'); j >= 0 && node.Name()[:j] == role {
			if _, err := strconv.Atoi(node.Name()[j+1:]); err == nil {
				have++
			}
		}
	}
	return n <= have+p.adds[role]
}
