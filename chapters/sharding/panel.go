package sharding

import (
	"strconv"

	"scalelab/chapters/internal/kit"
	"scalelab/engine"
)

// table is the shard panel: each shard's keys, rows, the router's calls
// per second to it and their p99, the busiest shard highlighted; each
// replica's rows and how far behind it is; the mover's progress.
func (l *lab) table() engine.Table {
	t := engine.Table{Name: "shards", Cols: []string{"keys", "rows", "req/s", "p99 ms"}, Progress: -1}
	sec := kit.SecOf(l.sys.Clock.Now())
	hot, _, _ := l.busiest(sec-3, sec, false)
	m := l.rt.Map()
	for i, s := range l.rt.Shards() {
		rps := float64(l.rt.CallsIn(s.Name(), sec-3, sec)) / 3
		p99 := "-"
		if _, q := l.rt.Book().Recent(s.Name()); q.P99 > 0 {
			p99 = strconv.FormatFloat(engine.Ms(q.P99), 'f', 0, 64)
		}
		t.Rows = append(t.Rows, engine.TableRow{Name: s.Name(), Hot: s.Name() == hot && len(l.rt.Shards()) > 1,
			Cells: []string{m.Keys(i), group(s.Rows()), strconv.FormatFloat(rps, 'f', 0, 64), p99}})
		for _, r := range s.Replicas() {
			t.Rows = append(t.Rows, engine.TableRow{Name: r.Name(), Cells: []string{"=" + s.Name(), group(r.Rows()), "-", "-"}})
		}
	}
	// a move's new shards fill before the map names them
	for _, s := range l.rt.Incoming() {
		t.Rows = append(t.Rows, engine.TableRow{Name: s.Name(), Cells: []string{"+", group(s.Rows()), "-", "-"}})
	}
	if moves := l.rt.Moves(); len(moves) > 0 && l.rt.Moving() {
		mv := moves[len(moves)-1]
		t.Progress = moveProgress(mv)
		if mv.Counted {
			t.ProgressText = engine.Textf("shard.progress", "%d of %d rows read · %d copied", mv.Scanned, mv.Total, mv.Moved)
		} else {
			t.ProgressText = engine.Textf("shard.progress.waiting", "waiting for the writes in flight")
		}
	}
	return t
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
