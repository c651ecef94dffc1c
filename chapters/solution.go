package chapters

import (
	"fmt"
	"strings"
	"time"

	"scalelab/engine"
)

// Solution is a step's worked answer: chaos-script lines that, played from
// the step's start for For of lab time, meet every objective and measure
// the prediction. The lab shows it as the hint's last tier, `scalelab run
// CHAPTER --step K --solution` plays it headless, and a test plays every
// step's solution on the real components.
type Solution struct {
	Script string
	For    time.Duration
}

// Lines parses the solution's script.
func (s Solution) Lines() ([]engine.Timed, error) {
	return engine.ParseScript("solution", s.Script)
}

// Steps of the solution as the lab shows them: one line per action, with
// its lab time and, where a key of the step turns that knob or sends that
// action, the key.
func (s Solution) Steps(keys []Key) []string {
	lines, err := s.Lines()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, l := range lines {
		text := l.Action.String()
		for _, k := range keys {
			if (k.Knob != "" && l.Action.Kind == engine.ActSet && l.Action.Key == k.Knob) ||
				(k.Knob == "" && k.Action != "" && l.Action.Kind == k.Action && (k.Target == "" || l.Action.Target == "" || k.Target == l.Action.Target)) {
				text += fmt.Sprintf("  [%s]", k.Key)
				break
			}
		}
		out = append(out, fmt.Sprintf("%6s  %s", fmtAt(l.At), text))
	}
	out = append(out, fmt.Sprintf("%6s  …", fmtAt(s.For)))
	return out
}

func fmtAt(d time.Duration) string {
	s := fmt.Sprintf("%.1fs", d.Seconds())
	return strings.Replace(s, ".0s", "s", 1)
}
