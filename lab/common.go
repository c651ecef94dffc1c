package lab

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"scalelab/engine"
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
	// missed, when set, is told of every key the UI asked for and tr had
	// no text for (the screen then shows a fallback: the key or a raw
	// name). Tests use it to find words a language lacks.
	missed func(key string)
	// has, when set, tells whether tr has text for key; without it, a
	// text that is the key itself counts as none (tr's answer for a key
	// it lacks), so a key like p50 whose text is "p50" needs it to count.
	has func(key string) bool
}

// lookup returns the UI text for key and whether there is one.
func (c *common) lookup(key string) (string, bool) {
	v := c.tr(key)
	if c.has != nil {
		return v, c.has(key)
	}
	return v, v != key && v != ""
}

func (c *common) miss(key string) {
	if c.missed != nil {
		c.missed(key)
	}
}

// T returns the UI text for key.
func (c *common) T(key string) string {
	v, ok := c.lookup(key)
	if !ok {
		c.miss(key)
	}
	return v
}

// Tf formats the UI text for key, which holds fmt verbs.
func (c *common) Tf(key string, args ...any) string { return fmt.Sprintf(c.T(key), args...) }

// TOr returns the UI text for key, or fallback when there is none.
func (c *common) TOr(key, fallback string) string {
	if v, ok := c.lookup(key); ok {
		return v
	}
	c.miss(key)
	return fallback
}

// knobLabel, valueLabel and eventLabel name chapter things in the UI's
// language when assets has a word for them.
func (c *common) knobLabel(name string) string  { return c.TOr("knob."+name, name) }
func (c *common) eventLabel(kind string) string { return c.TOr("event."+kind, kind) }

// valueLabel names a knob's value by its key value.<value> (see labelKey);
// a number with no text of its own ("0", "2") stands as it is.
func (c *common) valueLabel(v string) string {
	key := "value." + labelKey(v)
	if l, ok := c.lookup(key); ok {
		return l
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		c.miss(key)
	}
	return v
}
func (c *common) helpLabel(h string) string {
	return c.TOr("help."+strings.ReplaceAll(h, " ", "_"), h)
}

// say says an engine text in the UI's language: its format text.<key>
// filled with its arguments, a nested text and a knob value said in the
// language too. In English it is the engine's own words (what an event's
// Detail holds). A key with no text at all is said in the engine's
// English; one the language lacks gets English from tr, as every UI word
// does (en.txt holds the engine's formats; a test keeps them the same).
func (c *common) say(t engine.Text) string {
	if t.Empty() {
		return ""
	}
	if c.lang == "" || c.lang == "en" {
		return t.String()
	}
	key := "text." + t.Key
	f, ok := c.lookup(key)
	if !ok {
		c.miss(key)
		return t.String()
	}
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		switch a := a.(type) {
		case engine.Text:
			args[i] = c.say(a)
		case engine.KnobValue:
			args[i] = c.valueLabel(string(a))
		default:
			args[i] = a
		}
	}
	return fmt.Sprintf(f, args...)
}

// roleLabel names a node's role ("app", "db") by its key role.<role>.
func (c *common) roleLabel(r engine.Role) string {
	return c.TOr("role."+labelKey(string(r)), string(r))
}

// gaugeLabel names a gauge by its key gauge.<name> ("page p99" is
// gauge.page_p99, see labelKey). A gauge named after a node ("db-2 lag")
// with no key of its own is looked up without the node, as gauge.node_lag, whose text has a %s
// for the node's name: a node's name stays as it is.
func (c *common) gaugeLabel(name string, nodes []engine.NodeSnap) string {
	key := "gauge." + labelKey(name)
	if l, ok := c.lookup(key); ok { // "origin offload" is no node's gauge
		return l
	}
	if node, rest, ok := strings.Cut(name, " "); ok {
		for _, n := range nodes {
			if n.Name == node {
				key = "gauge.node_" + labelKey(rest)
				if f, ok := c.lookup(key); ok {
					return fmt.Sprintf(f, node)
				}
				break
			}
		}
	}
	c.miss(key)
	return name
}

// unitLabel names a unit by its key unit.<unit> ("req/s" is
// unit.req_per_s); the symbols %, × and µs stand as they are.
func (c *common) unitLabel(u string) string {
	switch u {
	case "", "%", "×", "µs":
		return u
	}
	return c.TOr("unit."+labelKey(u), u)
}

// withUnit puts a unit after a figure: "12 ms", "40%", "12/s", "$0.20/h".
func (c *common) withUnit(v, u string) string {
	switch {
	case u == "":
		return v
	case u == "%", u == "×": // closed up, so a wrapped line never leaves them alone
		return v + u
	case u == "$/h":
		return "$" + v + c.unitLabel("/h")
	case strings.HasPrefix(u, "/"):
		return v + c.unitLabel(u)
	}
	return v + " " + c.unitLabel(u)
}

// labelKey makes a name a table key: lower case, spaces as '_', '/' as
// "_per_" and '$' as "usd", so "egress $/h" is egress_usd_per_h and "/s"
// is per_s.
func labelKey(name string) string {
	s := strings.NewReplacer(" ", "_", "/", "_per_", "$", "_usd_").Replace(strings.ToLower(name))
	s = strings.Map(func(r rune) rune { // "turned away (queue full)", "reads, last 5 s"
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return strings.Trim(s, "_")
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
// fmtLatency is a measured percentile: "—" when nothing succeeded to
// measure (a request's latency is never 0).
func fmtLatency(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmtMs(d)
}

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
	lines := strings.Split(ansi.Wrap(figureUnit.ReplaceAllString(s, "$1\u00a0$2"), w, ""), "\n")
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, "\u00a0", " ")
	}
	return lines
}

// figureUnit is a figure, a space and a unit (unitWords): wrapping keeps
// them on one line.
var figureUnit = regexp.MustCompile(`(\d) ((?:` + strings.Join(quoteAll(unitWords), "|") + `)(?:[^A-Za-z0-9]|$))`)

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = regexp.QuoteMeta(s)
	}
	return out
}
