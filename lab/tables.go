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

// tableLines draws a chapter's table in at most h lines of width w: the
// title (unless the pane's title says it) with the progress bar of a task
// under way, the columns' names and a line per row, the last lines
// replaced by a count when short of room.
func (p *chartsPane) tableLines(t *engine.Table, w, h int, named bool) []string {
	c, st := p.c, p.c.styles
	if h <= 0 {
		return nil
	}
	head := ""
	if !named {
		head = st.Bold.Render(c.tableTitle(t))
	}
	if t.Progress >= 0 {
		frac := min(max(t.Progress, 0), 1)
		const barW = 12
		full := int(frac*barW + 0.5)
		bar := st.SeriesExtra.Render(strings.Repeat("█", full)) + st.Faint.Render(strings.Repeat("░", barW-full))
		head = strings.TrimPrefix(head+" "+bar+" "+st.Info.Render(fmt.Sprintf("%.0f%%", 100*frac)), " ")
		if !t.ProgressText.Empty() {
			head += " " + st.Faint.Render(c.say(t.ProgressText))
		}
	}
	var out []string
	if head != "" {
		out = append(out, fitLine(head, w))
		h--
	}
	if h <= 0 {
		return out
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
	line := func(name string, cells []string) string {
		var b strings.Builder
		b.WriteString(padRight(name, nameW))
		for i := range t.Cols {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			b.WriteString("  " + strings.Repeat(" ", max(widths[i]-ansi.StringWidth(cell), 0)) + cell)
		}
		return b.String()
	}
	out = append(out, fitLine(st.Faint.Render(line("", names)), w))
	room := h - 1
	shown := t.Rows
	if len(shown) > room {
		shown = shown[:max(room-1, 0)]
	}
	for _, r := range shown {
		s := line(r.Name, r.Cells)
		if r.Hot {
			s = st.Warn.Render(s)
		}
		out = append(out, fitLine(s, w))
	}
	if more := len(t.Rows) - len(shown); more > 0 && room > 0 {
		out = append(out, fitLine(st.Faint.Render(fmt.Sprintf(c.T("table_more"), more)), w))
	}
	return out
}
