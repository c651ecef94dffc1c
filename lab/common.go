package lab

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// common is the state every pane shares: size, styles, keys and words. The
// root owns it; panes get a pointer in their constructor.
type common struct {
	width, height int
	styles        *Styles
	keys          *KeyMap
	lang          string
	tr            func(key string) string // UI strings (assets.UI(lang).T)
	factLabel     func(key string) string // lesson fact labels
}

// T returns the UI text for key.
func (c *common) T(key string) string { return c.tr(key) }

// Tf formats the UI text for key, which holds fmt verbs.
func (c *common) Tf(key string, args ...any) string { return fmt.Sprintf(c.tr(key), args...) }

// TOr returns the UI text for key, or fallback when there is none.
func (c *common) TOr(key, fallback string) string {
	if v := c.tr(key); v != key && v != "" {
		return v
	}
	return fallback
}

// knobLabel, valueLabel and eventLabel name chapter things in the UI's
// language when assets has a word for them.
func (c *common) knobLabel(name string) string  { return c.TOr("knob."+name, name) }
func (c *common) valueLabel(v string) string    { return c.TOr("value."+v, v) }
func (c *common) eventLabel(kind string) string { return c.TOr("event."+kind, kind) }
func (c *common) helpLabel(h string) string {
	return c.TOr("help."+strings.ReplaceAll(h, " ", "_"), h)
}

// fmtRate formats requests per second compactly.
func fmtRate(v float64) string {
	switch {
	case v >= 9999.5:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 99.5 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// fmtMs formats a duration in milliseconds, or seconds when long.
func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.0fs", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.1fs", ms/1000)
	case ms >= 10 || ms == 0:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.1fms", ms)
	}
}

// fmtNum formats a figure: integers without decimals, others with up to 2.
func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	if math.Abs(v) >= 100 {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtLabTime formats lab time as m:ss.s.
func fmtLabTime(d time.Duration) string {
	s := d.Seconds()
	m := int(s) / 60
	return fmt.Sprintf("%d:%04.1f", m, s-float64(m*60))
}

// fit makes lines exactly w cells wide and h lines tall.
func fit(lines []string, w, h int) []string {
	out := make([]string, max(h, 0))
	for i := range out {
		if i < len(lines) {
			out[i] = fitLine(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", max(w, 0))
		}
	}
	return out
}

// fitLine truncates or pads one line to w cells.
func fitLine(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// padRight pads plain or styled text to w cells without truncating.
func padRight(s string, w int) string {
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// hjoin joins equal-height columns line by line with a separator.
func hjoin(sep string, cols ...[]string) []string {
	if len(cols) == 0 {
		return nil
	}
	out := make([]string, len(cols[0]))
	var b strings.Builder
	for i := range out {
		b.Reset()
		for j, c := range cols {
			if j > 0 {
				b.WriteString(sep)
			}
			if i < len(c) {
				b.WriteString(c[i])
			}
		}
		out[i] = b.String()
	}
	return out
}

// titled renders a pane: a title rule and then the content, w×h in all.
func titled(c *common, title, right string, content []string, w, h int) []string {
	if h <= 0 {
		return nil
	}
	st := c.styles
	head := st.Rule.Render("─ ") + st.PaneTitle.Render(title) + " "
	tail := ""
	if right != "" {
		tail = " " + right + " " + st.Rule.Render("─")
	}
	fill := w - ansi.StringWidth(head) - ansi.StringWidth(tail)
	if fill < 0 {
		tail, fill = "", max(w-ansi.StringWidth(head), 0)
	}
	out := make([]string, 0, h)
	out = append(out, fitLine(head+st.Rule.Render(strings.Repeat("─", fill))+tail, w))
	return append(out, fit(content, w, h-1)...)
}

// wrapText wraps plain text to w cells, breaking long words.
func wrapText(s string, w int) []string {
	if w < 1 {
		w = 1
	}
	return strings.Split(ansi.Wrap(s, w, ""), "\n")
}
