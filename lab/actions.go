package lab

import (
	"math"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"scalelab/engine"
)

const (
	rateFactor  = 1.25
	spikeFactor = 5
	spikeFor    = 10 * time.Second
)

// actionFor turns a chaos, load, clock or step key into an engine action.
// Keys that are disabled now (see KeyMap.apply) do not match.
func (m *model) actionFor(msg tea.KeyPressMsg) (engine.Action, bool) {
	if m.cur == nil {
		return engine.Action{}, false
	}
	k := m.c.keys
	n, l := m.topo.selected()
	target := ""
	var injected time.Duration
	switch {
	case n != nil:
		target, injected = n.Name, n.Latency
	case l != nil:
		target, injected = l.ID(), l.Latency
	}
	s := m.snap
	switch {
	case key.Matches(msg, k.Kill):
		return engine.Action{Kind: engine.ActKill, Target: target}, true
	case key.Matches(msg, k.Restart):
		return engine.Action{Kind: engine.ActRestart, Target: target}, true
	case key.Matches(msg, k.Latency):
		return engine.Action{Kind: engine.ActLatency, Target: target, Dur: nextLatency(injected)}, true
	case key.Matches(msg, k.LoadUp):
		return engine.Action{Kind: engine.ActRate, Value: scaleRate(s.BaseRate, rateFactor)}, true
	case key.Matches(msg, k.LoadDown):
		return engine.Action{Kind: engine.ActRate, Value: scaleRate(s.BaseRate, 1/rateFactor)}, true
	case key.Matches(msg, k.Spike):
		return engine.Action{Kind: engine.ActSpike, Value: spikeFactor, Dur: spikeFor}, true
	case key.Matches(msg, k.Pause):
		if s.Paused {
			return engine.Action{Kind: engine.ActResume}, true
		}
		return engine.Action{Kind: engine.ActPause}, true
	case key.Matches(msg, k.Slower):
		return engine.Action{Kind: engine.ActSpeed, Value: stepSpeed(s.Speed, -1)}, true
	case key.Matches(msg, k.Faster):
		return engine.Action{Kind: engine.ActSpeed, Value: stepSpeed(s.Speed, 1)}, true
	}
	for _, sk := range k.Step {
		if !key.Matches(msg, sk.Binding) {
			continue
		}
		d := sk.Def
		if d.Knob != "" {
			return engine.Action{Kind: engine.ActSet, Key: d.Knob, Str: nextKnobValue(s, d.Knob)}, true
		}
		t := d.Target
		if t == "" {
			t = target
		}
		return engine.Action{Kind: d.Action, Target: t}, true
	}
	return engine.Action{}, false
}

// apply sends an action through the session; an error shows briefly.
func (m *model) apply(a engine.Action) tea.Cmd {
	if err := m.cur.sess.Apply(a); err != nil {
		return m.flash(a.String()+": "+err.Error(), true)
	}
	switch a.Kind {
	case engine.ActPause:
		m.snap.Paused = true
	case engine.ActResume:
		m.snap.Paused = false
	case engine.ActSpeed:
		m.snap.Speed = a.Value
	case engine.ActRate:
		m.snap.BaseRate = a.Value
	}
	return m.flash("→ "+a.String(), false)
}

// nextLatency cycles injected latency 0 → 50ms → 200ms → 0.
func nextLatency(cur time.Duration) time.Duration {
	latencySteps := [...]time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond}
	for i, d := range latencySteps {
		if cur == d {
			return latencySteps[(i+1)%len(latencySteps)]
		}
	}
	return 0
}

func scaleRate(base, f float64) float64 {
	if base <= 0 {
		if f > 1 {
			return 10
		}
		return 0
	}
	r := math.Round(base * f)
	if r == base { // small rates still move
		r = base + math.Copysign(1, f-1)
	}
	return min(max(r, 1), engine.MaxRate)
}

// stepSpeed moves the clock speed one step through 0.25, 0.5, 1, 2, 4.
func stepSpeed(cur float64, d int) float64 {
	speedSteps := [...]float64{0.25, 0.5, 1, 2, 4}
	i := 2
	for k, s := range speedSteps {
		if math.Abs(s-cur) < 1e-9 {
			i = k
		}
	}
	i = min(max(i+d, 0), len(speedSteps)-1)
	return speedSteps[i]
}

// nextKnobValue is the value after the knob's current one, in its cycle.
func nextKnobValue(s engine.Snapshot, name string) string {
	for _, k := range s.Knobs {
		if k.Name != name || len(k.Values) == 0 {
			continue
		}
		for i, v := range k.Values {
			if v == k.Value {
				return k.Values[(i+1)%len(k.Values)]
			}
		}
		return k.Values[0]
	}
	return ""
}
