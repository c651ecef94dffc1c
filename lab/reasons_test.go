package lab

import (
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
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

// The event log's columns line up whatever the kinds' widths, Korean
// (two cells a letter) included; the debrief's help line shows each key
// once; figures group thousands alike.
func TestEventColumnsAndHelpLine(t *testing.T) {
	snap := fixtureSnapshot()
	snap.Events = []engine.Event{
		{T: time.Second, Kind: "heartbeat", Node: "db-1", Detail: "missed heartbeat 1/3"},
		{T: 2 * time.Second, Kind: "추가됨", Node: "monitor-1", Detail: "joined"},
		{T: 3 * time.Second, Kind: "up", Node: "web-1", Detail: "booted"},
	}
	snap.NEvent = 3
	next := fixtureChapter()
	next.ID, next.Number = "demo2", 4
	m, _ := openStep(t, []*chapters.Chapter{fixtureChapter(), next}, 0, 0, snap)
	col := -1
	lines := m.events.lines()
	for i, detail := range []string{"missed heartbeat 1/3", "joined", "booted"} {
		l := ansi.Strip(lines[1+i])
		k := strings.Index(l, detail)
		if k < 0 {
			t.Fatalf("no %q in %q", detail, l)
		}
		if w := ansi.StringWidth(l[:k]); col < 0 {
			col = w
		} else if w != col {
			t.Errorf("%q starts at cell %d, the first detail at %d:\n%s", detail, w, col, strings.Join(lines, "\n"))
		}
	}
	if got, want := fmtNum(9747), "9,747"; got != want {
		t.Errorf("fmtNum(9747) = %q, want %q", got, want)
	}
	if got, want := fmtNum(10463.4), "10,463"; got != want {
		t.Errorf("fmtNum(10463.4) = %q, want %q", got, want)
	}
	run(m, m.next())
	run(m, m.next()) // the debrief
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	help := ansi.Strip(m.help.ShortHelpView(m.c.keys.ShortHelp()))
	if n := strings.Count(help, "next chapter"); n != 1 {
		t.Errorf("the debrief's help line names next chapter %d times: %q", n, help)
	}
	if strings.Contains(screen(m), "next step") {
		t.Errorf("the debrief mentions the next step:\n%s", screen(m))
	}
}
