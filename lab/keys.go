package lab

import (
	"charm.land/bubbles/v2/key"

	"scalelab/chapters"
)

// KeyMap is every key of the lab, in one place. Contextual keys are enabled
// and disabled as the screen changes, so the help line shows only keys that
// do something now.
type KeyMap struct {
	Select, SelectPrev      key.Binding
	Kill, Restart, Latency  key.Binding
	LoadUp, LoadDown, Spike key.Binding
	Pause, Slower, Faster   key.Binding

	NextStep, PrevStep, NextChapter, PrevChapter key.Binding

	Inspect, Hint, Help, Quit key.Binding

	ScrollUp, ScrollDown, PageUp, PageDown key.Binding

	// Prediction: a choice key, or digits then enter; esc skips.
	Choose, Digit, Decimal, Enter, Erase, Skip key.Binding

	// Step holds the step's own keys (knobs and actions).
	Step []StepKey

	pauseLabel, resumeLabel    string
	nextStepLabel, nextChLabel string
	debrief                    bool
}

// StepKey is a chapter key and its binding.
type StepKey struct {
	Binding key.Binding
	Def     chapters.Key
}

// DefaultKeyMap returns the lab's keys with help labels in the UI language.
func DefaultKeyMap(t func(string) string) *KeyMap {
	b := func(help string, label string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, t(label)))
	}
	return &KeyMap{
		pauseLabel:    t("help.pause"),
		resumeLabel:   t("help.resume"),
		nextStepLabel: t("help.next_step"),
		nextChLabel:   t("help.next_chapter"),
		Select:        b("tab", "help.select", "tab"),
		SelectPrev:    b("shift+tab", "help.select_prev", "shift+tab"),
		Kill:          b("x", "help.kill", "x"),
		Restart:       b("r", "help.restart", "r"),
		Latency:       b("l", "help.latency", "l"),
		LoadUp:        b("+", "help.load_up", "+", "="),
		LoadDown:      b("-", "help.load_down", "-", "_"),
		Spike:         b("s", "help.spike", "s"),
		Pause:         b("space", "help.pause", "space"),
		Slower:        b("<", "help.slower", "<"),
		Faster:        b(">", "help.faster", ">"),
		NextStep:      b("n", "help.next_step", "n"),
		PrevStep:      b("b", "help.prev_step", "b"),
		NextChapter:   b("]", "help.next_chapter", "]"),
		PrevChapter:   b("[", "help.prev_chapter", "["),
		Inspect:       b("i", "help.inspector", "i"),
		Hint:          b("h", "help.hint", "h"),
		Help:          b("?", "help.help", "?"),
		Quit:          b("q", "help.quit", "q", "ctrl+c"),
		ScrollUp:      b("↑", "help.scroll_up", "up", "k"),
		ScrollDown:    b("↓", "help.scroll_down", "down", "j"),
		PageUp:        b("pgup", "help.page_up", "pgup"),
		PageDown:      b("pgdn", "help.page_down", "pgdown"),
		Choose:        b("1-9", "help.predict", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		Digit:         b("0-9", "help.predict_number", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		Decimal:       b(".", "help.predict_number", "."),
		Enter:         b("enter", "help.answer", "enter"),
		Erase:         b("backspace", "help.erase", "backspace"),
		Skip:          b("esc", "help.skip", "esc"),
	}
}

// global returns the bindings the root handles before any pane.
func (k *KeyMap) global() []key.Binding {
	return []key.Binding{k.Select, k.SelectPrev, k.Kill, k.Restart, k.Latency,
		k.LoadUp, k.LoadDown, k.Spike, k.Pause, k.Slower, k.Faster,
		k.NextStep, k.PrevStep, k.NextChapter, k.PrevChapter,
		k.Inspect, k.Hint, k.Help, k.Quit}
}

// SetStepKeys installs a step's own keys. A key that a global key already
// uses is dropped, so the help line never shows a key that does not work;
// the dropped keys are returned (a test keeps the chapters free of them).
func (k *KeyMap) SetStepKeys(defs []chapters.Key, label func(string) string) (clashes []string) {
	taken := map[string]bool{"enter": true, "esc": true, "backspace": true}
	for _, g := range k.global() {
		for _, s := range g.Keys() {
			taken[s] = true
		}
	}
	for _, s := range append(k.Digit.Keys(), k.Decimal.Keys()...) {
		taken[s] = true
	}
	k.Step = k.Step[:0]
	for _, d := range defs {
		if d.Key == "" || taken[d.Key] {
			clashes = append(clashes, d.Key)
			continue
		}
		taken[d.Key] = true
		k.Step = append(k.Step, StepKey{
			Binding: key.NewBinding(key.WithKeys(d.Key), key.WithHelp(d.Key, label(d.Help))),
			Def:     d,
		})
	}
	return clashes
}

// stepBindings returns the step keys' bindings.
func (k *KeyMap) stepBindings() []key.Binding {
	out := make([]key.Binding, 0, len(k.Step))
	for _, s := range k.Step {
		out = append(out, s.Binding)
	}
	return out
}

// ShortHelp is the help line: the step's keys and the prediction first,
// then the keys a learner uses most. Disabled keys are not shown.
func (k *KeyMap) ShortHelp() []key.Binding {
	out := k.stepBindings()
	out = append(out, k.Choose, k.Digit, k.Enter, k.Skip,
		k.Select, k.Kill, k.Restart, k.Latency, k.NextStep, k.Hint, k.Help, k.Quit,
		k.LoadUp, k.LoadDown, k.Spike, k.Pause, k.Slower, k.Faster)
	if !k.debrief { // in the debrief n goes to the next chapter: "n/]" says both
		out = append(out, k.NextChapter)
	}
	return append(out, k.PrevStep, k.Inspect)
}

// FullHelp groups every key for the ? screen.
func (k *KeyMap) FullHelp() [][]key.Binding {
	groups := [][]key.Binding{
		{k.Select, k.SelectPrev, k.Kill, k.Restart, k.Latency},
		{k.LoadUp, k.LoadDown, k.Spike, k.Pause, k.Slower, k.Faster},
		{k.NextStep, k.PrevStep, k.NextChapter, k.PrevChapter},
		{k.Inspect, k.Hint, k.Help, k.Quit, k.ScrollUp, k.ScrollDown, k.PageUp, k.PageDown},
		{k.Choose, k.Digit, k.Enter, k.Erase, k.Skip},
	}
	if len(k.Step) > 0 {
		groups = append([][]key.Binding{k.stepBindings()}, groups...)
	}
	return groups
}

// keyState is what decides which keys apply now.
type keyState struct {
	live        bool // a session is running
	node        bool // a node is selected
	link        bool // a link is selected
	nodeUp      bool // the selected node can be killed
	nodeDown    bool // the selected node can be restarted
	selectable  bool // there is something to select
	paused      bool
	load        bool // the step has load
	choices     int  // an open choice prediction's choices
	number      bool // an open number prediction
	typing      bool // digits typed for a number prediction
	hasNext     bool // n goes somewhere
	hasPrev     bool
	hasNextCh   bool
	hasPrevCh   bool
	debrief     bool
	scrollable  bool
	hasHint     bool
	stepEnabled func(StepKey) bool
}

// apply enables and disables keys for the state.
func (k *KeyMap) apply(s keyState) {
	k.Select.SetEnabled(s.live && s.selectable)
	k.SelectPrev.SetEnabled(s.live && s.selectable)
	k.Kill.SetEnabled(s.live && s.node && s.nodeUp)
	k.Restart.SetEnabled(s.live && s.node && s.nodeDown)
	k.Latency.SetEnabled(s.live && (s.node || s.link))
	k.LoadUp.SetEnabled(s.live && s.load)
	k.LoadDown.SetEnabled(s.live && s.load)
	k.Spike.SetEnabled(s.live && s.load)
	k.Pause.SetEnabled(s.live)
	if s.paused {
		k.Pause.SetHelp("space", k.resumeLabel)
	} else {
		k.Pause.SetHelp("space", k.pauseLabel)
	}
	k.Slower.SetEnabled(s.live)
	k.Faster.SetEnabled(s.live)
	k.NextStep.SetEnabled(s.hasNext)
	k.debrief = s.debrief
	if s.debrief { // from the debrief, n goes on to the next chapter, as ] does
		k.NextStep.SetHelp("n/]", k.nextChLabel)
	} else {
		k.NextStep.SetHelp("n", k.nextStepLabel)
	}
	k.PrevStep.SetEnabled(s.hasPrev)
	k.NextChapter.SetEnabled(s.hasNextCh)
	k.PrevChapter.SetEnabled(s.hasPrevCh)
	k.Inspect.SetEnabled(s.live && (s.node || s.link))
	k.Hint.SetEnabled(!s.debrief && s.hasHint)
	k.ScrollUp.SetEnabled(s.scrollable)
	k.ScrollDown.SetEnabled(s.scrollable)
	k.PageUp.SetEnabled(s.scrollable)
	k.PageDown.SetEnabled(s.scrollable)
	k.Choose.SetEnabled(s.choices > 0)
	if s.choices > 0 {
		k.Choose.SetHelp(chooseRange(s.choices), k.Choose.Help().Desc)
	}
	k.Digit.SetEnabled(s.number)
	k.Decimal.SetEnabled(s.number)
	k.Enter.SetEnabled(s.number && s.typing)
	k.Erase.SetEnabled(s.number && s.typing)
	k.Skip.SetEnabled(s.choices > 0 || s.number)
	for i := range k.Step {
		on := s.live
		if on && s.stepEnabled != nil {
			on = s.stepEnabled(k.Step[i])
		}
		k.Step[i].Binding.SetEnabled(on)
	}
}

func chooseRange(n int) string {
	if n <= 1 {
		return "1"
	}
	return "1-" + string(rune('0'+min(n, 9)))
}
