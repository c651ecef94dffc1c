package lab

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
)

// chartsPane draws the load's throughput (ok and failed per second) and
// latency (p50 and p99 per second) as braille line charts, newest at the
// right, one dot column per lab second.
type chartsPane struct {
	c    *common
	w, h int
	snap *engine.Snapshot
	fail failures
}

func newChartsPane(c *common) *chartsPane { return &chartsPane{c: c} }

func (p *chartsPane) SetSize(w, h int)          { p.w, p.h = w, h }
func (p *chartsPane) ShortHelp() []key.Binding  { return nil }
func (p *chartsPane) FullHelp() [][]key.Binding { return nil }
func (p *chartsPane) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(snapshotMsg); ok {
		p.snap = &m.snap
		p.fail.add(&m.snap)
	}
	return nil
}

// reasonText names why requests fail now, in the UI's language: "queue
// full", "server error at db-1"; "" when none fail.
func (p *chartsPane) reasonText() string {
	r, node := p.fail.leading()
	switch {
	case r == "":
		return ""
	case node != "":
		return p.c.Tf("reason.5xx_at", node)
	}
	return p.c.TOr("reason."+r, "HTTP "+r)
}

const gutter = 7 // y-axis label width

func (p *chartsPane) View() string { return strings.Join(p.lines(), "\n") }

func (p *chartsPane) lines() []string {
	c, st := p.c, p.c.styles
	inner := p.h - 1
	if inner < 2 || p.w < gutter+4 {
		return titled(c, c.T("throughput"), "", nil, p.w, p.h)
	}
	// a chapter's table goes under the charts, or alone when there is no
	// room for both (the header and the gauges still give the throughput)
	var tbl []string
	if p.snap != nil && len(p.snap.Tables) > 0 {
		t := &p.snap.Tables[0]
		want := tableHeight(t)
		if inner-want < 4 {
			title := c.tableTitle(t)
			return titled(c, title, p.tableProgress(t, p.w-ansi.StringWidth(title)-8), p.tableLines(t, p.w, inner, true), p.w, p.h)
		}
		tbl = p.tableLines(t, p.w, want, false)
		inner -= len(tbl)
	}
	var series []engine.Point
	if p.snap != nil {
		series = p.snap.Series
	}
	cw := p.w - gutter
	n := min(len(series), 2*cw)
	pts := series[len(series)-n:]
	okV, failV := make([]float64, n), make([]float64, n)
	p50V, p99V := make([]float64, n), make([]float64, n)
	for i, pt := range pts {
		okV[i], failV[i] = float64(pt.OK), float64(pt.Failed)
		p50V[i] = float64(pt.P50) / float64(time.Millisecond)
		p99V[i] = float64(pt.P99) / float64(time.Millisecond)
	}
	var last engine.Point
	if n > 0 {
		last = pts[n-1]
	}
	// two charts share the rows below their label lines, three with a
	// chapter's own (a queue's depth) when there is room for it; a time
	// axis when there is room
	// (short of room, the chapter's chart takes the latency chart's place:
	// the gauges still give the p50)
	var extra *engine.Chart
	if p.snap != nil && len(p.snap.Charts) > 0 {
		extra = &p.snap.Charts[0]
	}
	three := extra != nil && inner-3 >= 6
	rows := inner - 2
	if three {
		rows--
	}
	axis := rows >= 8
	if axis {
		rows--
	}
	tr := rows - rows/2
	lr := rows / 2
	cr := 0
	switch {
	case three:
		cr, lr = rows/3, rows/3
		tr = rows - cr - lr
	case extra != nil:
		cr, lr = lr, 0
	case tbl != nil && rows < 6:
		tr, lr = rows, 0 // the gauges give the p99
	}
	var out []string
	failed := c.T("failed") + " " + fmtRate(float64(last.Failed)) + c.unitLabel("/s")
	if why := p.reasonText(); why != "" && last.Failed > 0 {
		failed += " · " + why
	}
	legend := fmt.Sprintf("%s %s  %s %s",
		st.SeriesOK.Render("━"), st.OK.Render(c.T("ok")+" "+fmtRate(float64(last.OK))+c.unitLabel("/s")),
		st.SeriesFail.Render("━"), st.Bad.Render(failed))
	if head := st.Bold.Render(c.T("throughput")) + " " + legend; ansi.StringWidth(head) <= p.w {
		legend = head // the pane's title says it too: the word goes first when short of room
	}
	out = append(out, legend)
	if tr > 0 {
		top := niceMax(maxOf(okV, failV))
		out = append(out, withGutter(st, brailleChart([][]float64{okV, failV}, []style{st.SeriesOK, st.SeriesFail}, cw, tr, top), fmtRate(top))...)
	}
	if extra != nil {
		out = append(out, p.extraLines(extra, cw, cr)...)
	}
	if (extra == nil || three) && (tbl == nil || lr > 0) {
		out = append(out, fmt.Sprintf("%s %s %s  %s %s",
			st.Bold.Render(c.T("latency")),
			st.SeriesP50.Render("━"), st.Info.Render(c.T("p50")+" "+fmtLatency(last.P50)),
			st.SeriesP99.Render("━"), st.Warn.Render(c.T("p99")+" "+fmtLatency(last.P99))))
	}
	if lr > 0 {
		top := niceMax(maxOf(p50V, p99V))
		out = append(out, withGutter(st, brailleChart([][]float64{p50V, p99V}, []style{st.SeriesP50, st.SeriesP99}, cw, lr, top), fmtMs(time.Duration(top*float64(time.Millisecond))))...)
	}
	if axis {
		span := fmt.Sprintf("−%ds", 2*cw)
		now := c.T("now")
		out = append(out, strings.Repeat(" ", gutter)+st.Faint.Render(span+strings.Repeat(" ", max(cw-len(span)-len(now), 1))+now))
	}
	out = append(out, tbl...)
	title := c.T("throughput") + " · " + c.T("latency")
	return titled(c, title, st.Faint.Render(c.T("per_second")), out, p.w, p.h)
}

// extraLines draws a chapter's chart: its title and newest value, then the
// line over rows rows, newest at the right like the others.
func (p *chartsPane) extraLines(ch *engine.Chart, cw, rows int) []string {
	c, st := p.c, p.c.styles
	vals := ch.Values[len(ch.Values)-min(len(ch.Values), 2*cw):]
	last := 0.0
	if n := len(vals); n > 0 {
		last = vals[n-1]
	}
	head := fmt.Sprintf("%s %s %s", st.Bold.Render(c.TOr("chart."+labelKey(ch.Name), ch.Name)),
		st.SeriesExtra.Render("━"), st.Info.Render(fmtRate(last)+c.unitLabel(ch.Unit)))
	top := niceMax(maxOf(vals))
	return append([]string{head}, withGutter(st, brailleChart([][]float64{vals}, []style{st.SeriesExtra}, cw, rows, top), fmtRate(top))...)
}

// withGutter puts the scale's top label on the first row and 0 on the last.
func withGutter(st *Styles, rows []string, top string) []string {
	for i := range rows {
		label, tick := "", "│"
		switch {
		case i == 0:
			label, tick = top, "┤"
		case i == len(rows)-1:
			label, tick = "0", "┤"
		}
		rows[i] = st.Faint.Render(fmt.Sprintf("%*s ", gutter-2, label)+tick) + rows[i]
	}
	return rows
}

func maxOf(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			m = math.Max(m, x)
		}
	}
	return m
}

// niceMax rounds a scale's top up to 1, 2, 2.5 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

// brailleBit is the dot of a braille cell at column x (0–1), row y (0–3).
var brailleBit = [2][4]rune{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}

// brailleChart plots series (right-aligned, one value per dot column) in
// w×h cells scaled to top. Where series share a cell, the later one's
// style wins.
func brailleChart(series [][]float64, styles []style, w, h int, top float64) []string {
	dotsY := 4 * h
	bits := make([][]rune, len(series))
	for s, vals := range series {
		cells := make([]rune, w*h)
		bits[s] = cells
		off := 2*w - len(vals)
		prevY := -1
		for i, v := range vals {
			x := off + i
			if x < 0 {
				continue
			}
			y := dotsY - 1 - int(math.Round(v/top*float64(dotsY-1)))
			y = min(max(y, 0), dotsY-1)
			y0, y1 := y, y
			if prevY >= 0 { // join to the previous point
				y0, y1 = min(prevY, y), max(prevY, y)
			}
			for yy := y0; yy <= y1; yy++ {
				cells[(yy/4)*w+x/2] |= brailleBit[x%2][yy%4]
			}
			prevY = y
		}
	}
	out := make([]string, h)
	var b, run strings.Builder
	for row := 0; row < h; row++ {
		b.Reset()
		run.Reset()
		cur := -1
		for col := 0; col < w; col++ {
			i := row*w + col
			var r rune
			owner := -1
			for s := range bits {
				if bits[s][i] != 0 {
					r |= bits[s][i]
					owner = s
				}
			}
			if owner != cur {
				flushRun(&b, &run, styles, cur)
				cur = owner
			}
			if owner < 0 {
				run.WriteByte(' ')
			} else {
				run.WriteRune(0x2800 + r)
			}
		}
		flushRun(&b, &run, styles, cur)
		out[row] = b.String()
	}
	return out
}

func flushRun(b, run *strings.Builder, styles []style, owner int) {
	if run.Len() == 0 {
		return
	}
	if owner >= 0 && owner < len(styles) {
		b.WriteString(styles[owner].Render(run.String()))
	} else {
		b.WriteString(run.String())
	}
	run.Reset()
}
