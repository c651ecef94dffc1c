package lab

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// testWords are the lab's English UI words from ui_keys.txt, so golden
// files do not change when the assets' wording does.
func testWords(tb testing.TB) func(string) string {
	tb.Helper()
	src, err := os.ReadFile("ui_keys.txt")
	if err != nil {
		tb.Fatal(err)
	}
	m, _, err := assets.ParseTable("ui_keys.txt", src)
	if err != nil {
		tb.Fatal(err)
	}
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return k
	}
}

// fixtureChapter is a fixed chapter like the load balancer one.
func fixtureChapter() *chapters.Chapter {
	return &chapters.Chapter{
		ID: "demo", Number: 3,
		Steps: []chapters.Step{
			{
				ID:       "policies",
				Keys:     []chapters.Key{{Key: "p", Help: "policy", Knob: "lb.policy"}, {Key: "d", Help: "drain", Action: engine.ActDrain}},
				Solution: chapters.Solution{Script: "16s set lb.policy least-conn\n20s drain web-1", For: 33 * time.Second},
				Prediction: &chapters.Prediction{ID: "best-policy", Choices: 3, Unit: "ms",
					Correct: func(v float64) int { return 1 }},
				Objectives: []chapters.Objective{{ID: "try-rr"}, {ID: "try-lc"}},
			},
			{
				ID:         "health",
				Prediction: &chapters.Prediction{ID: "share", Unit: "%"},
				Objectives: []chapters.Objective{{ID: "kill"}},
			},
		},
	}
}

func fixtureLesson() *assets.Lesson {
	return &assets.Lesson{
		ID: "demo", Title: "The load balancer",
		Steps: []assets.StepText{
			{
				ID: "policies", Title: "Balancing policies",
				Body: "`lb-1` is the only public address. `web-1` to `web-3` sit on **private** addresses.\n\n" +
					"Press `p` to cycle the policy:\n\n- **round-robin**: each server in turn.\n- **least-conn**: the fewest requests in flight.\n- **p2c**: two random choices.\n\n" +
					"Give each policy *some time* and watch the gauges. Select `web-3` with `tab` to watch its queue.",
				Hint:       "Give each policy at least 15 s before you compare.",
				Question:   "One server is slower. Which policy gives lower p99?",
				Choices:    []string{"Round robin", "Least connections", "No difference"},
				Objectives: map[string]string{"try-rr": "Run round robin for 15 s", "try-lc": "Run least connections for 15 s"},
			},
			{ID: "health", Title: "Health checks", Body: "Kill a server.", Question: "What share fails?",
				Objectives: map[string]string{"kill": "Kill a web server"}},
		},
		Debrief: "### What you saw\n\nPolicies that look at load steered requests away from the slow server.\n\n| a | b |\n|---|---|\n| 1 | 2 |",
	}
}

// fixtureSnapshot is a realistic, fixed snapshot: five nodes, 120 s of
// series and 50 events.
func fixtureSnapshot() engine.Snapshot {
	s := engine.Snapshot{T: 125500 * time.Millisecond, Speed: 1, Rate: 200, BaseRate: 200, InFlight: 12,
		Totals:     engine.Totals{Sent: 24000, OK: 23500, Failed: 500},
		SecondsRun: 125}
	for i := 0; i < 120; i++ {
		sec := 5 + i
		ok := 190 + 10*math.Sin(float64(i)/7)
		failed := 0.0
		if i > 80 && i < 95 {
			failed, ok = 60, 140
		}
		s.Series = append(s.Series, engine.Point{Sec: sec, Sent: int64(ok + failed), OK: int64(ok), Failed: int64(failed),
			P50: time.Duration(12+3*math.Sin(float64(i)/5)) * time.Millisecond,
			P99: time.Duration(45+20*math.Sin(float64(i)/9)+float64(i%7)) * time.Millisecond})
	}
	s.Nodes = []engine.NodeSnap{
		{Name: "lb-1", Role: "lb", Layer: engine.LayerEntry, State: engine.StateUp, Addr: "127.0.0.1:40001", Public: true, RPS: 200, Requests: 24000, P50: 13 * time.Millisecond, P99: 48 * time.Millisecond, Detail: engine.Textf("test.lb", "policy round-robin")},
		{Name: "web-1", Role: "web", Layer: engine.LayerWeb, State: engine.StateUp, Addr: "127.0.0.1:40002", Workers: 8, QueueCap: 64, InFlight: 3, RPS: 70.2, Requests: 8100, P50: 11 * time.Millisecond, P99: 30 * time.Millisecond, Size: "m", CostHour: 0.2},
		{Name: "web-2", Role: "web", Layer: engine.LayerWeb, State: engine.StateSaturated, Addr: "127.0.0.1:40003", Workers: 8, QueueCap: 64, InFlight: 8, Queued: 5, RPS: 80, Requests: 8300, Errors: 12, P50: 20 * time.Millisecond, P99: 90 * time.Millisecond, Latency: 50 * time.Millisecond},
		{Name: "web-3", Role: "web", Layer: engine.LayerWeb, State: engine.StateDown, Workers: 4, QueueCap: 64, Requests: 7600, Errors: 480},
		{Name: "db-1", Role: "db", State: engine.StateUp, Addr: "127.0.0.1:40005", Workers: 16, QueueCap: 128, RPS: 150, Requests: 18000, P50: 2 * time.Millisecond, P99: 9 * time.Millisecond, Detail: engine.Textf("test.db", "1,000 rows")},
	}
	s.Links = []engine.LinkSnap{
		{From: "lb-1", To: "web-1", RPS: 70, Up: true},
		{From: "lb-1", To: "web-2", RPS: 80, Up: true, Latency: 50 * time.Millisecond},
		{From: "lb-1", To: "web-3", Up: false},
		{From: "web-1", To: "db-1", RPS: 60, Up: true},
		{From: "web-2", To: "db-1", RPS: 70, Up: true},
		{From: "web-3", To: "db-1", Up: false},
	}
	s.Knobs = []engine.KnobSnap{{Name: "lb.policy", Value: "round-robin", Values: []string{"round-robin", "least-conn", "p2c"}}}
	s.Gauges = []engine.Gauge{
		{Name: "p99_round_robin_ms", Value: 48, Unit: "ms"},
		{Name: "cost_per_hour", Value: 0.6, Unit: "$/h", Modelled: true},
	}
	kinds := []engine.EventKind{engine.EvUp, engine.EvSet, engine.EvLatency, engine.EvKill, "eject", engine.EvRate}
	tones := []engine.Tone{engine.ToneGood, engine.ToneInfo, engine.ToneWarn, engine.ToneBad, engine.ToneBad, engine.ToneInfo}
	for i := 0; i < 50; i++ {
		k := kinds[i%len(kinds)]
		t := time.Duration(i) * 2500 * time.Millisecond
		s.Events = append(s.Events, engine.Event{T: t, TMs: t.Milliseconds(), Kind: k, Tone: tones[i%len(tones)], Node: fmt.Sprintf("web-%d", i%3+1), Detail: "detail of event " + fmt.Sprint(i)})
	}
	s.NEvent = 50
	return s
}

// fakeSession is a step without a running system.
type fakeSession struct {
	met      map[string]bool
	measured float64
	hasMeas  bool
	applied  []engine.Action
	facts    map[string]any
	closed   bool
}

func (f *fakeSession) Observe(engine.Snapshot) []string { return nil }
func (f *fakeSession) Met(id string) bool               { return f.met[id] }
func (f *fakeSession) Apply(a engine.Action) error {
	f.applied = append(f.applied, a)
	return nil
}
func (f *fakeSession) Measured() (float64, bool) { return f.measured, f.hasMeas }
func (f *fakeSession) Lesson() map[string]any    { return f.facts }
func (f *fakeSession) Close() error              { f.closed = true; return nil }

// fixtureModel is the lab at w×h showing the fixture step with the
// fixture snapshot, with no colour.
func fixtureModel(tb testing.TB, w, h int) (*model, *fakeSession) {
	tb.Helper()
	return fixtureModelColor(tb, w, h, false)
}

// fixtureModelColor is fixtureModel, with colour when color is set.
func fixtureModelColor(tb testing.TB, w, h int, color bool) (*model, *fakeSession) {
	tb.Helper()
	words := testWords(tb)
	prog := newProgress()
	prog.Chapter("demo").Predictions["best-policy"] = 0 // 1 Round robin
	m := newModel(config{
		all: []*chapters.Chapter{fixtureChapter()}, lang: "en", noColor: !color,
		tr: words, factLabel: func(k string) string { return k },
		loadLesson: func(string) (*assets.Lesson, error) { return fixtureLesson(), nil },
		progress:   prog,
		runner:     newRunner(func(*chapters.Chapter, int) (*chapters.Session, error) { return nil, errNoSystem }),
	})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	_ = m.Init() // the open command is never run: the fake below stands in
	fs := &fakeSession{met: map[string]bool{"try-rr": true}, measured: 47.5, hasMeas: true,
		facts: map[string]any{"p99_rr_ms": 48.0, "p99_lc_ms": 21.5, "policy": "least-conn"}}
	id := m.want
	ls := &liveSession{id: id, sess: fs, done: make(chan struct{})}
	m.run.live[id] = ls // as openCmd registers it
	m.Update(openedMsg{id: id, ls: ls})
	m.Update(snapshotMsg{id: id, snap: fixtureSnapshot()})
	return m, fs
}

var errNoSystem = fmt.Errorf("no system in this test")

// screen is the model's view without escape codes.
func screen(m *model) string { return ansi.Strip(m.View().Content) }
