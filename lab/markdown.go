package lab

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// renderMarkdown renders the markdown lessons use (headings, paragraphs,
// lists, quotes, code, simple tables; **bold**, *italic*, `code`) into
// lines at most w cells wide. It is small and fast on purpose: lesson text
// is re-wrapped whenever the terminal is resized, and callers cache it.
func renderMarkdown(st *Styles, src string, w int) []string {
	w = max(w, 8)
	var (
		out   []string
		para  []string
		quote []string
		table []string
		fence string
	)
	blank := func() {
		if len(out) > 0 && out[len(out)-1] != "" {
			out = append(out, "")
		}
	}
	flush := func() {
		if len(para) > 0 {
			out = append(out, wrapWords(words(inline(st, strings.Join(para, " "), st.Plain)), w, "", "")...)
			para = nil
		}
		if len(quote) > 0 {
			bar := st.Quote.Render("│ ")
			out = append(out, wrapWords(words(inline(st, strings.Join(quote, " "), st.Quote)), w, bar, bar)...)
			quote = nil
		}
		if len(table) > 0 {
			out = append(out, renderTable(st, table, w)...)
			table = nil
		}
	}
	for _, raw := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		line := strings.TrimRight(raw, " \t")
		trim := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trim, fence) {
				fence = ""
				blank()
				continue
			}
			out = append(out, fitLine(st.Code.Render("  "+strings.ReplaceAll(line, "\t", "    ")), w))
			continue
		}
		switch {
		case strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~"):
			flush()
			blank()
			fence = trim[:3]
		case trim == "":
			flush()
			blank()
		case strings.HasPrefix(trim, "#"):
			flush()
			level := len(trim) - len(strings.TrimLeft(trim, "#"))
			text := strings.TrimSpace(trim[level:])
			blank()
			hs := st.H2
			if level == 1 {
				hs = st.H1
			}
			out = append(out, wrapWords(words(inline(st, text, hs)), w, "", "")...)
		case isRule(trim):
			flush()
			out = append(out, st.Rule.Render(strings.Repeat("─", w)))
		case strings.HasPrefix(trim, ">"):
			if len(para) > 0 || len(table) > 0 {
				flush()
			}
			quote = append(quote, strings.TrimSpace(strings.TrimPrefix(trim, ">")))
		case strings.HasPrefix(trim, "|"):
			if len(para) > 0 || len(quote) > 0 {
				flush()
			}
			table = append(table, trim)
		default:
			if m := listItem.FindStringSubmatch(line); m != nil {
				flush()
				indent := strings.Repeat("  ", min(len(strings.ReplaceAll(m[1], "\t", "  "))/2, 4))
				marker := "• "
				if m[2] != "-" && m[2] != "*" && m[2] != "+" {
					marker = m[2] + " "
				}
				first := indent + st.Accent.Render(marker)
				rest := indent + strings.Repeat(" ", ansi.StringWidth(marker))
				out = append(out, wrapWords(words(inline(st, m[3], st.Plain)), w, first, rest)...)
				continue
			}
			if len(quote) > 0 || len(table) > 0 {
				flush()
			}
			para = append(para, trim)
		}
	}
	flush()
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

var listItem = regexp.MustCompile(`^(\s*)([-*+]|\d{1,2}[.)])\s+(.*)$`)

func isRule(s string) bool {
	if len(s) < 3 {
		return false
	}
	c := s[0]
	if c != '-' && c != '*' && c != '_' {
		return false
	}
	return strings.Count(s, string(c)) == len(s)
}

// piece is a styled run of text; a word is pieces with no space between.
type piece struct {
	s  string
	st style
}

type word []piece

// inline splits text into styled pieces: `code`, **strong**, *em*, _em_.
func inline(st *Styles, s string, base style) []piece {
	var out []piece
	var cur strings.Builder
	emit := func(text string, sty style) {
		if text != "" {
			out = append(out, piece{text, sty})
		}
	}
	flush := func() {
		emit(cur.String(), base)
		cur.Reset()
	}
	for i := 0; i < len(s); {
		switch {
		case s[i] == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j >= 0 {
				flush()
				emit(s[i+1:i+1+j], st.Code)
				i += j + 2
				continue
			}
		case strings.HasPrefix(s[i:], "**") || strings.HasPrefix(s[i:], "__"):
			mark := s[i : i+2]
			if j := strings.Index(s[i+2:], mark); j > 0 {
				flush()
				out = append(out, inline(st, s[i+2:i+2+j], st.Strong)...)
				i += j + 4
				continue
			}
		case s[i] == '*' || s[i] == '_':
			// as in CommonMark, * may open and close inside a word (a Korean
			// particle follows its word directly: *적중률*이), _ may not
			// (fact_names_like_this)
			mark := s[i]
			intra := mark == '*'
			if (intra || boundaryBefore(s, i)) && i+1 < len(s) && s[i+1] != ' ' {
				if j := strings.IndexByte(s[i+1:], mark); j > 0 && s[i+j] != ' ' && (intra || boundaryAfter(s, i+1+j)) {
					flush()
					emit(s[i+1:i+1+j], st.Em)
					i += j + 2
					continue
				}
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		cur.WriteRune(r)
		i += size
	}
	flush()
	return out
}

func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

func boundaryAfter(s string, i int) bool {
	if i+1 >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i+1:])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// words splits pieces at spaces, keeping a figure and its unit together
// ("20 ms", "300 요청/초"): a line never ends between them.
func words(ps []piece) []word {
	out := splitWords(ps)
	for i := len(out) - 1; i > 0; i-- {
		if endsInDigit(out[i-1]) && isUnitWord(out[i]) {
			prev := out[i-1]
			glued := append(append(prev[:len(prev):len(prev)], piece{" ", prev[len(prev)-1].st}), out[i]...)
			out = append(append(out[:i-1], glued), out[i+1:]...)
		}
	}
	return out
}

// unitWords are the units a figure may be followed by; a unit word may
// carry punctuation or a Korean particle after it ("ms,", "ms가").
var unitWords = []string{"ms", "s", "µs", "req/s", "rps", "KB", "MB", "GB", "%", "x", "×",
	"밀리초", "초", "요청/초", "분", "개", "건", "회", "대"}

func endsInDigit(w word) bool {
	if len(w) == 0 {
		return false
	}
	last := w[len(w)-1].s
	r, _ := utf8.DecodeLastRuneInString(last)
	return unicode.IsDigit(r)
}

func isUnitWord(w word) bool {
	if len(w) == 0 {
		return false
	}
	s := w[0].s
	for _, u := range unitWords {
		rest, ok := strings.CutPrefix(s, u)
		if !ok {
			continue
		}
		r, _ := utf8.DecodeRuneInString(rest)
		if rest == "" || !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return true // "ms", "ms,", "ms가"; not "seconds"
		}
	}
	return false
}

// splitWords splits pieces at spaces.
func splitWords(ps []piece) []word {
	var out []word
	var cur word
	for _, p := range ps {
		parts := strings.Split(p.s, " ")
		for k, part := range parts {
			if k > 0 && len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			if part != "" {
				cur = append(cur, piece{part, p.st})
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// wrapWords lays words out in lines of w cells; first and rest prefix the
// first and following lines (their width counts).
func wrapWords(ws []word, w int, first, rest string) []string {
	var out []string
	var b strings.Builder
	prefix := first
	b.WriteString(prefix)
	used := ansi.StringWidth(prefix)
	avail := func() int { return max(w-ansi.StringWidth(prefix), 4) }
	lineEmpty := true
	newLine := func() {
		out = append(out, b.String())
		b.Reset()
		prefix = rest
		b.WriteString(prefix)
		used = ansi.StringWidth(prefix)
		lineEmpty = true
	}
	for _, wd := range ws {
		var rb strings.Builder
		ww := 0
		for _, p := range wd {
			rb.WriteString(p.st.Render(p.s))
			ww += ansi.StringWidth(p.s)
		}
		text := rb.String()
		if !lineEmpty && used+1+ww > w {
			newLine()
		}
		if ww > avail() { // a word longer than a line: break it
			parts := strings.Split(ansi.Hardwrap(text, avail(), true), "\n")
			for k, part := range parts {
				if k > 0 {
					newLine()
				}
				b.WriteString(part)
				used += ansi.StringWidth(part)
				lineEmpty = false
			}
			continue
		}
		if !lineEmpty {
			b.WriteByte(' ')
			used++
		}
		b.WriteString(text)
		used += ww
		lineEmpty = false
	}
	if !lineEmpty || len(out) == 0 {
		out = append(out, b.String())
	}
	return out
}

// renderTable lays out pipe-table rows in aligned columns.
func renderTable(st *Styles, rows []string, w int) []string {
	var cells [][]string
	for _, r := range rows {
		r = strings.Trim(r, "|")
		parts := strings.Split(r, "|")
		isSep := true
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
			if strings.Trim(parts[i], "-: ") != "" {
				isSep = false
			}
		}
		if isSep {
			continue
		}
		cells = append(cells, parts)
	}
	return tableLines(st, cells, w, true)
}

// tableLines aligns rows of cells (markdown inline allowed) in columns; the
// first row is a header when header is set. When the columns are wider
// than w together, the widest give way and their cells wrap: every cell is
// read whole, a figure never cut.
func tableLines(st *Styles, rows [][]string, w int, header bool) []string {
	var widths []int
	cells := make([][][]piece, len(rows))
	for i, r := range rows {
		for j, c := range r {
			base := st.Plain
			if header && i == 0 {
				base = st.Strong
			}
			ps := inline(st, c, base)
			cells[i] = append(cells[i], ps)
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			cw := 0
			for _, p := range ps {
				cw += ansi.StringWidth(p.s)
			}
			widths[j] = max(widths[j], cw)
		}
	}
	fitWidths(widths, w)
	var out []string
	for i, r := range cells {
		wrapped := make([][]string, len(r))
		n := 1
		for j, ps := range r {
			wrapped[j] = wrapWords(words(ps), widths[j], "", "")
			n = max(n, len(wrapped[j]))
		}
		for k := range n {
			var b strings.Builder
			for j := range r {
				if j > 0 {
					b.WriteString(st.Faint.Render(" │ "))
				}
				cell := ""
				if k < len(wrapped[j]) {
					cell = wrapped[j][k]
				}
				if j == len(r)-1 {
					b.WriteString(cell)
				} else {
					b.WriteString(padRight(cell, widths[j]))
				}
			}
			out = append(out, fitLine(b.String(), w))
		}
		if header && i == 0 {
			var sb strings.Builder
			for j, cw := range widths {
				if j > 0 {
					sb.WriteString("─┼─")
				}
				sb.WriteString(strings.Repeat("─", cw))
			}
			out = append(out, fitLine(st.Faint.Render(sb.String()), w))
		}
	}
	return out
}

// fitWidths narrows the widest columns, one cell at a time, until the
// columns and their " │ " separators fit w (no column below 6 cells).
func fitWidths(widths []int, w int) {
	total := func() int {
		t := 3 * max(len(widths)-1, 0)
		for _, cw := range widths {
			t += cw
		}
		return t
	}
	for total() > w {
		widest := 0
		for j, cw := range widths {
			if cw > widths[widest] {
				widest = j
			}
		}
		if widths[widest] <= 6 {
			return
		}
		widths[widest]--
	}
}
