package engine

import (
	"fmt"
	"strings"
)

// Text is a line the engine says to the learner: an event's detail, a
// node's detail or an inspector line. Its English is Format filled with
// Args; Key names it in the UI's string tables (text.<Key>), so the lab can
// say it in the learner's language with the same arguments. An argument may
// itself be a Text (a count, a role) or a KnobValue, which the lab names in
// the learner's language too; anything else (a node's name, a figure, an
// error) is shown as it is.
//
// Make one with Textf or Plural, with the key and the format as literals: a
// test reads them from the source and checks that every language has the
// text and takes the same arguments.
type Text struct {
	Key    string
	Format string
	Args   []any
}

// Textf makes a keyed text; format and args are fmt's.
func Textf(key, format string, args ...any) Text {
	return Text{Key: key, Format: format, Args: args}
}

// String is the text in English: a nested Text or a KnobValue says itself
// in English too (fmt calls their String).
func (t Text) String() string { return fmt.Sprintf(t.Format, t.Args...) }

// Empty reports whether t says nothing.
func (t Text) Empty() bool { return t.Key == "" && t.Format == "" }

// Plural is n and a noun, "1 target" or "3 targets", keyed count.<noun>
// (spaces as '_'), so a language can count its own way ("대상 3개", "3회").
func Plural(n int, noun string) Text {
	key := "count." + strings.ReplaceAll(noun, " ", "_")
	if n == 1 {
		return Textf(key, "%d "+noun, n)
	}
	return Textf(key, "%d "+noun+"s", n)
}

// KnobValue is a knob's value in a text ("least-conn", "semi-sync"): the lab
// names it as the knobs pane does, by its key value.<value>.
type KnobValue string

func (v KnobValue) String() string { return string(v) }

// Line is one of a node's extra inspector lines: a label and its value
// ("lag" and "3 positions, 40 ms"). A line with no value (a heading, an item
// of a list) is drawn whole; an item is indented under its heading.
type Line struct {
	Label, Value Text
	Item         bool
}

// String is the line in English, "label: value", or "  item".
func (l Line) String() string {
	switch {
	case l.Item:
		return "  " + l.Label.String()
	case l.Value.Empty():
		return l.Label.String()
	}
	return l.Label.String() + ": " + l.Value.String()
}

// OneLine makes a text one line: an error's text may hold line breaks.
func OneLine(s string) string { return oneLine.Replace(s) }

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
