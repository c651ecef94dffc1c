package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// stepKnobs are one step's knobs as its topology registers them, with the
// lab key that cycles each (none: set it from a chaos script only).
type stepKnobs struct {
	Index int // 0-based
	Knobs []engine.KnobSnap
	Keys  map[string]string // knob name → key
}

// builtKnobs keeps each step's knobs once read, by chapter id and step:
// building a topology seeds databases and starts servers, and a process
// (the tests' above all) may list a chapter more than once.
var builtKnobs sync.Map // "chapter/step" → []engine.KnobSnap

// chapterKnobs builds each step's topology (nothing runs: no load, no
// clock) to read the knobs it registers, and closes it again. only, when
// at least 0, limits it to that step.
func chapterKnobs(ch *chapters.Chapter, only int) ([]stepKnobs, error) {
	var out []stepKnobs
	for i, st := range ch.Steps {
		if only >= 0 && i != only {
			continue
		}
		id := fmt.Sprintf("%s/%d", ch.ID, i)
		knobs, ok := builtKnobs.Load(id)
		if !ok {
			s, err := chapters.Build(ch, i, chapters.Options{Seed: 1})
			if err != nil {
				return nil, err
			}
			knobs = s.Sys.Snapshot().Knobs
			if err := s.Close(); err != nil {
				return nil, err
			}
			builtKnobs.Store(id, knobs)
		}
		sk := stepKnobs{Index: i, Knobs: knobs.([]engine.KnobSnap), Keys: map[string]string{}}
		for _, k := range st.Keys {
			if k.Knob != "" {
				sk.Keys[k.Knob] = k.Key
			}
		}
		out = append(out, sk)
	}
	return out, nil
}

// printKnobs writes a chapter's knobs by step in lang.
func printKnobs(w io.Writer, ch *chapters.Chapter, steps []stepKnobs, lang string) {
	ui := assets.UI(lang)
	lesson, _ := assets.LoadLesson(lang, ch.ID)
	fmt.Fprintf(w, ui.T("knobs.heading")+"\n", ch.ID)
	for _, sk := range steps {
		st := ch.Steps[sk.Index]
		title := st.ID
		if lesson != nil {
			if txt, ok := lesson.Step(st.ID); ok && txt.Title != "" {
				title = txt.Title
			}
		}
		fmt.Fprintf(w, "\n"+ui.T("knobs.step")+"\n", sk.Index+1, title)
		if len(sk.Knobs) == 0 {
			fmt.Fprintf(w, "  %s\n", ui.T("knobs.none"))
		}
		nameW, labelW, valuesW := 0, 0, 0
		for _, k := range sk.Knobs {
			nameW = max(nameW, len(k.Name))
			labelW = max(labelW, ansi.StringWidth(knobLabel(ui, k.Name)))
			valuesW = max(valuesW, ansi.StringWidth(knobValues(ui, k)))
		}
		for _, k := range sk.Knobs {
			key := ui.T("knobs.no_key")
			if sk.Keys[k.Name] != "" {
				key = fmt.Sprintf(ui.T("knobs.key"), sk.Keys[k.Name])
			}
			fmt.Fprintf(w, "  %-*s  %s  %s  %s\n", nameW, k.Name, padWidth(knobLabel(ui, k.Name), labelW), padWidth(knobValues(ui, k), valuesW), key)
		}
		var other []string
		for _, k := range st.Keys {
			if k.Knob == "" {
				other = append(other, k.Key+" "+ui.KeyHelp(k.Help))
			}
		}
		if len(other) > 0 {
			fmt.Fprintf(w, "  "+ui.T("knobs.other_keys")+"\n", strings.Join(other, " · "))
		}
	}
}

// knobValues are the values a knob takes, as a set line spells them.
func knobValues(ui assets.Strings, k engine.KnobSnap) string {
	if len(k.Values) == 0 {
		return ui.T("knobs.any")
	}
	return strings.Join(k.Values, " | ")
}

// knobLabel is what the lab calls a knob, in ui's language ("" if nothing).
func knobLabel(ui assets.Strings, name string) string {
	if v := ui.T("knob." + name); v != "knob."+name {
		return v
	}
	return ""
}
