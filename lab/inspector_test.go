package lab

import (
	"fmt"
	"strings"
	"testing"

	"scalelab/chapters"
	"scalelab/engine"
)

// The inspector wraps a long value instead of cutting it: every lost
// write id of a promoted primary can be read, at any size.
func TestInspectorWrapsLongValues(t *testing.T) {
	var ids []string
	for i := range 6 {
		ids = append(ids, fmt.Sprintf("u%d-p%d", 100+i, 4000+i))
	}
	lost := engine.Line{Label: engine.Textf("repl.lost_here", "lost here (acknowledged, missing)"),
		Value: engine.Textf("repl.writes.value", "%d: %s", 9, strings.Join(ids, ", ")+", … (+3)")}
	for _, size := range [][2]int{{80, 24}, {160, 48}, {200, 60}} {
		snap := replicatedSnapshot()
		// as chapter 4's promoted primary has them: the lost ids come last
		snap.Nodes[3].Lines = []engine.Line{
			{Label: engine.Textf("repl.replication", "replication"), Value: engine.Textf("repl.role.primary", "primary")},
			{Label: engine.Textf("repl.log_position", "log position"), Value: engine.Textf("repl.log_position.value", "%d (applied %d)", 1567, 1562)},
			{Label: engine.Textf("repl.rows", "rows (posts)"), Value: engine.Textf("repl.rows.value", "%d", 6562)},
			{Label: engine.Textf("repl.mode", "mode"), Value: engine.Textf("repl.mode.async", "async")},
			lost}
		snap.Nodes[3].Workers, snap.Nodes[3].Size, snap.Nodes[3].CostHour, snap.Nodes[3].Requests = 4, "medium", 0.2, 12000
		ch := fixtureChapter()
		ch.Steps[0].Select = "db-2"
		m, _ := openStep(t, []*chapters.Chapter{ch}, 0, 0, snap)
		m.Update(teaSizeMsg(size[0], size[1]))
		m.Update(press("i"))
		out := screen(m)
		for _, id := range append(ids, "(+3)") {
			if !strings.Contains(out, id) {
				t.Errorf("%dx%d: %s is not on screen:\n%s", size[0], size[1], id, out)
				break
			}
		}
	}
}
