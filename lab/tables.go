package lab

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
)

// tableHeight is how many lines a chapter's table takes whole: its title,
// its header and a line per row.
func tableHeight(t *engine.Table) int { return 2 + len(t.Rows) }

// tableTitle is a table's name in the learner's language.
func (c *common) tableTitle(t *engine.Table) string { return c.TOr("table."+labelKey(t.Name), t.Name) }

// tableProgress draws a table's progress bar and percentage, with its text
// when it fits in w cells ("" when nothing is under way).
func (p *chartsPane) tableProgress(t *engine.Table, w int) string {
	c, st := p.c, p.c.styles
	if t.Progress < 0 {
		return ""
	}
	frac := min(max(t.Progress, 0), 1)
	const barW = 12
	full := int(frac*barW + 0.5)
	out := st.SeriesExtra.Render(strings.Repeat("█", full)) + st.Faint.Render(strings.Repeat("░", barW-full)) +
		" " + st.Info.Render(fmt.Sprintf("%.0f%%", 100*frac))
	if !t.ProgressText.Empty() {
		if long := out + " " + st.Faint.Render(c.say(t.ProgressText)); ansi.StringWidth(long) <= w {
			return long
		}
	}
	return out
}

// tableLines draws a chapter's table in at most h lines of width w: the
// title with the progress bar of a task under way (unless the pane's
// title says them: named), the columns' names and the rows. When the rows
// do not fit one a line, two or more share a line, side by side; when
// they still do not fit, the columns' names give way, and then the last
// rows, to a count.
func (p *chartsPane) tableLines(t *engine.Table, w, h int, named bool) []string {
	c, st := p.c, p.c.styles
	if h <= 0 {
		return nil
	}
	var out []string
	if !named {
		head := st.Bold.Render(c.tableTitle(t))
		if prog := p.tableProgress(t, w-ansi.StringWidth(head)-1); prog != "" {
			head += " " + prog
		}
		out = append(out, fitLine(head, w))
		if h--; h == 0 {
			return out
		}
	}
	names := make([]string, len(t.Cols))
	widths := make([]int, len(t.Cols))
	nameW := 0
	for _, r := range t.Rows {
		nameW = max(nameW, ansi.StringWidth(r.Name))
	}
	for i, col := range t.Cols {
		names[i] = c.TOr("col."+labelKey(col), col)
		widths[i] = ansi.StringWidth(names[i])
		for _, r := range t.Rows {
			if i < len(r.Cells) {
				widths[i] = max(widths[i], ansi.StringWidth(r.Cells[i]))
			}
		}
	}
	cell := func(name string, cells []string) string {
		var b strings.Builder
		b.WriteString(padRight(name, nameW))
		for i := range t.Cols {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			b.WriteString("  " + strings.Repeat(" ", max(widths[i]-ansi.StringWidth(v), 0)) + v)
		}
		return b.String()
	}
	const sep = " │ "
	cellW := ansi.StringWidth(cell("", names))
	room := h - 1 // under the header
	per := 1
	for per < len(t.Rows) && (len(t.Rows)+per-1)/per > room && (per+1)*cellW+per*len(sep) <= w {
		per++
	}
	// short of room even so, the rows go first and the header gives way
	if (len(t.Rows)+per-1)/per > room {
		room++
	} else {
		header := make([]string, per)
		for i := range header {
			header[i] = cell("", names)
		}
		out = append(out, fitLine(st.Faint.Render(strings.Join(header, sep)), w))
	}
	var lines []string
	for i := 0; i < len(t.Rows); i += per {
		var segs []string
		for _, r := range t.Rows[i:min(i+per, len(t.Rows))] {
			s := cell(r.Name, r.Cells)
			if r.Hot {
				s = st.Warn.Render(s)
			}
			segs = append(segs, s)
		}
		lines = append(lines, fitLine(strings.Join(segs, st.Faint.Render(sep)), w))
	}
	if len(lines) > room {
		shown := max(room-1, 0)
		more := len(t.Rows) - shown*per
		lines = append(lines[:shown], fitLine(st.Faint.Render(fmt.Sprintf(c.T("table_more"), more)), w))
	}
	return append(out, lines...)
}
