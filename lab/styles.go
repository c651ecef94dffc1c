package lab

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"

	"scalelab/engine"
)

// palette is the lab's colours, in one place.
type palette struct {
	text, muted, faint, accent, ok, warn, bad, info, violet, orange color.Color
}

func defaultPalette() palette {
	return palette{
		text:   lipgloss.Color("#D0D0D0"),
		muted:  lipgloss.Color("#8A8A8A"),
		faint:  lipgloss.Color("#5F5F5F"),
		accent: lipgloss.Color("#AF87FF"),
		ok:     lipgloss.Color("#5FD787"),
		warn:   lipgloss.Color("#FFD75F"),
		bad:    lipgloss.Color("#FF5F5F"),
		info:   lipgloss.Color("#5FAFFF"),
		violet: lipgloss.Color("#D787FF"),
		orange: lipgloss.Color("#FFAF5F"),
	}
}

// style is a lipgloss style reduced to the escape codes around one line of
// text: the lab styles thousands of short spans a frame, and wrapping them
// in precomputed codes is many times faster than a full lipgloss render.
// Plain styles (NO_COLOR, unstyled spans) add nothing.
type style struct {
	ls             lipgloss.Style
	prefix, suffix string
}

func mk(ls lipgloss.Style) style {
	out := ls.Render("x")
	i := strings.Index(out, "x")
	if i < 0 { // cannot happen for the styles built here
		return style{ls: ls}
	}
	return style{ls: ls, prefix: out[:i], suffix: out[i+1:]}
}

// Render styles s, which should be one line.
func (st style) Render(s string) string {
	if st.prefix == "" && st.suffix == "" || s == "" {
		return s
	}
	if strings.Contains(s, "\n") {
		return st.ls.Render(s)
	}
	return st.prefix + s + st.suffix
}

// Styles are every style the lab draws with, built from one palette. With
// NoColor no colour is used at all: states still read as words and
// symbols, and emphasis falls back to bold and reverse.
type Styles struct {
	NoColor bool

	Plain, Text, Muted, Faint, Bold, Accent style
	Title, PaneTitle, Rule, Sep             style
	OK, Bad, Warn, Info, Modelled           style
	Selected, SelectedBox                   style
	SeriesOK, SeriesFail                    style
	SeriesP50, SeriesP99, SeriesExtra       style
	H1, H2, Strong, Em, Code, Quote         style
	Status, StatusErr, Good                 style
	Key                                     style

	states map[engine.State]style
	Help   help.Styles
}

// NewStyles builds the styles; noColor drops every colour.
func NewStyles(noColor bool) *Styles {
	p := defaultPalette()
	n := lipgloss.NewStyle
	fg := func(c color.Color) lipgloss.Style {
		if noColor {
			return n()
		}
		return n().Foreground(c)
	}
	s := &Styles{
		NoColor:     noColor,
		Plain:       mk(n()),
		Text:        mk(fg(p.text)),
		Muted:       mk(fg(p.muted)),
		Faint:       mk(fg(p.faint)),
		Bold:        mk(n().Bold(true)),
		Accent:      mk(fg(p.accent).Bold(true)),
		Title:       mk(fg(p.accent).Bold(true)),
		PaneTitle:   mk(fg(p.info).Bold(true)),
		Rule:        mk(fg(p.faint)),
		Sep:         mk(fg(p.faint)),
		OK:          mk(fg(p.ok)),
		Bad:         mk(fg(p.bad)),
		Warn:        mk(fg(p.warn)),
		Info:        mk(fg(p.info)),
		Modelled:    mk(fg(p.violet).Italic(true)),
		Selected:    mk(fg(p.accent).Bold(true).Reverse(noColor)),
		SelectedBox: mk(fg(p.accent).Bold(true)),
		SeriesOK:    mk(fg(p.ok)),
		SeriesFail:  mk(fg(p.bad)),
		SeriesP50:   mk(fg(p.info)),
		SeriesP99:   mk(fg(p.orange)),
		SeriesExtra: mk(fg(p.violet)),
		H1:          mk(fg(p.accent).Bold(true).Underline(true)),
		H2:          mk(fg(p.info).Bold(true)),
		Strong:      mk(n().Bold(true)),
		Em:          mk(n().Italic(true)),
		Code:        mk(fg(p.warn)),
		Quote:       mk(fg(p.muted).Italic(true)),
		Status:      mk(fg(p.muted)),
		StatusErr:   mk(fg(p.bad).Bold(true)),
		Good:        mk(fg(p.ok).Bold(true)),
		Key:         mk(fg(p.info).Bold(true)),
	}
	s.states = map[engine.State]style{
		engine.StateUp:         s.OK,
		engine.StateDown:       mk(fg(p.bad).Bold(true)),
		engine.StateRestarting: mk(fg(p.orange)),
		engine.StateSaturated:  s.Warn,
		engine.StateDraining:   mk(fg(p.violet)),
	}
	s.Help = help.Styles{
		Ellipsis:       s.Faint.ls,
		ShortKey:       s.Key.ls,
		ShortDesc:      s.Muted.ls,
		ShortSeparator: s.Faint.ls,
		FullKey:        s.Key.ls,
		FullDesc:       s.Text.ls,
		FullSeparator:  s.Faint.ls,
	}
	return s
}

// State is the style of a node state.
func (s *Styles) State(st engine.State) style {
	if x, ok := s.states[st]; ok {
		return x
	}
	return s.Muted
}

// stateSymbol shows a state without colour.
func stateSymbol(st engine.State) string {
	switch st {
	case engine.StateUp:
		return "●"
	case engine.StateDown:
		return "✗"
	case engine.StateRestarting:
		return "↻"
	case engine.StateSaturated:
		return "▲"
	case engine.StateDraining:
		return "◌"
	}
	return "?"
}
