package lab

import (
	"strings"
	"testing"
	"time"

	"scalelab/chapters"
	"scalelab/engine"
)

// Where failures show, so does their leading reason over the last seconds:
// a full queue by name, a 5xx with the node it came from.
func TestFailuresShowTheirReason(t *testing.T) {
	at := func(base engine.Snapshot, sec int, reasons map[string]int64, errs map[string]int64) engine.Snapshot {
		s := base
		s.T = time.Duration(sec) * time.Second
		s.Totals.FailedByReason = reasons
		s.Nodes = append([]engine.NodeSnap(nil), base.Nodes...)
		for i := range s.Nodes {
			s.Nodes[i].Errors = errs[s.Nodes[i].Name]
		}
		s.Series = append(append([]engine.Point(nil), base.Series...), engine.Point{Sec: sec, OK: 300, Failed: 52})
		return s
	}
	base := fixtureSnapshot()
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter()}, 0, 0,
		at(base, 10, map[string]int64{engine.ReasonTimeout: 40, engine.ReasonQueueFull: 5}, nil))
	feed := func(s engine.Snapshot) { m.Update(snapshotMsg{id: m.cur.id, snap: s}) }
	feed(at(base, 15, map[string]int64{engine.ReasonTimeout: 42, engine.ReasonQueueFull: 265}, nil))
	if out := screen(m); !strings.Contains(out, "failed 52/s · queue full") {
		t.Errorf("no queue-full reason beside the failures:\n%s", out)
	}
	// then the database answers errors, and the web tier passes them on
	feed(at(base, 20, map[string]int64{engine.ReasonTimeout: 42, engine.ReasonQueueFull: 265, engine.Reason5xx: 10}, map[string]int64{"web-1": 5, "db-1": 3}))
	feed(at(base, 26, map[string]int64{engine.ReasonTimeout: 42, engine.ReasonQueueFull: 265, engine.Reason5xx: 400}, map[string]int64{"web-1": 400, "db-1": 380}))
	if out := screen(m); !strings.Contains(out, "failed 52/s · server error at db-1") {
		t.Errorf("the 5xx does not name db-1:\n%s", out)
	}
}
