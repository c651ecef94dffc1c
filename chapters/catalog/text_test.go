package catalog_test

import (
	"scalelab/chapters/catalog"
	"slices"
	"sort"
	"strings"
	"testing"

	"scalelab/assets"
	"scalelab/chapters"
)

// TestLessonText checks that every chapter's words exist in every language:
// each step id has a title and body, each prediction its question and
// exactly Choices choices (none when it asks for a number), each objective
// its text, and the lesson has no steps or objectives the chapter lacks.
func TestLessonText(t *testing.T) {
	for _, ch := range catalog.All() {
		for _, lang := range assets.Langs() {
			where := lang + "/" + ch.ID
			l, err := assets.LoadLesson(lang, ch.ID)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if blank(l.Title) || blank(l.Summary) || blank(l.Debrief) {
				t.Errorf("%s: title %q, summary %q, debrief %q", where, l.Title, l.Summary, l.Debrief)
			}
			var want, got []string
			for _, st := range ch.Steps {
				want = append(want, st.ID)
			}
			for _, st := range l.Steps {
				got = append(got, st.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: lesson steps %v, chapter steps %v", where, got, want)
			}
			for _, st := range ch.Steps {
				checkStep(t, where+"/"+st.ID, l, st)
			}
		}
	}
}

func checkStep(t *testing.T, where string, l *assets.Lesson, st chapters.Step) {
	t.Helper()
	txt, ok := l.Step(st.ID)
	if !ok {
		t.Errorf("%s: no text", where)
		return
	}
	if blank(txt.Title) || blank(txt.Body) {
		t.Errorf("%s: title %q, body %q", where, txt.Title, txt.Body)
	}
	switch p := st.Prediction; {
	case p == nil:
		if txt.Question != "" || len(txt.Choices) > 0 {
			t.Errorf("%s: question %q with %d choices, but the step asks no prediction", where, txt.Question, len(txt.Choices))
		}
	default:
		if blank(txt.Question) {
			t.Errorf("%s: prediction %s has no question", where, p.ID)
		}
		if len(txt.Choices) != p.Choices {
			t.Errorf("%s: prediction %s has %d choices, want %d", where, p.ID, len(txt.Choices), p.Choices)
		}
		for i, c := range txt.Choices {
			if blank(c) {
				t.Errorf("%s: choice %d is empty", where, i+1)
			}
		}
	}
	var ids []string
	for _, o := range st.Objectives {
		ids = append(ids, o.ID)
		if blank(txt.Objectives[o.ID]) {
			t.Errorf("%s: objective %s has no text", where, o.ID)
		}
	}
	for id := range txt.Objectives {
		if !slices.Contains(ids, id) {
			t.Errorf("%s: text for objective %s, which the chapter does not have", where, id)
		}
	}
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// TestLessonTextKeys checks that every chapter key's help label and knob
// have UI text in every language, under the names the TUI looks up:
// "help." + Help with spaces as '_', and "knob." + Knob.
func TestLessonTextKeys(t *testing.T) {
	var missing []string
	for _, ch := range catalog.All() {
		for _, st := range ch.Steps {
			for _, k := range st.Keys {
				keys := []string{"help." + strings.ReplaceAll(k.Help, " ", "_")}
				if k.Knob != "" {
					keys = append(keys, "knob."+k.Knob)
				}
				for _, lang := range assets.Langs() {
					s := assets.UI(lang)
					for _, key := range keys {
						if !s.Has(key) {
							missing = append(missing, lang+":"+key)
						}
					}
				}
			}
		}
	}
	sort.Strings(missing)
	if missing = slices.Compact(missing); len(missing) > 0 {
		t.Errorf("UI text missing: %v", missing)
	}
}

// Every prediction's measured figure has a label in every language, so the
// verdict says what it measured ("p99 least-conn / round robin = 0.48 ×").
func TestPredictionsSayWhatTheyMeasure(t *testing.T) {
	for _, ch := range catalog.All() {
		for _, st := range ch.Steps {
			if st.Prediction == nil {
				continue
			}
			key := "measure_" + strings.ReplaceAll(st.Prediction.ID, "-", "_")
			for _, lang := range assets.Langs() {
				if got := assets.FactLabel(lang, key); got == key {
					t.Errorf("%s/%s: no %s label for %s", ch.ID, st.ID, lang, key)
				}
			}
		}
	}
}

// A fact a step owns is one the chapter reports: it has a label, and no
// two steps own it.
func TestOwnedFactsAreFacts(t *testing.T) {
	for _, ch := range catalog.All() {
		seen := map[string]string{}
		for _, st := range ch.Steps {
			for _, k := range st.Owns {
				if assets.FactLabel("en", k) == k {
					t.Errorf("%s/%s owns %q, which is no fact with a label", ch.ID, st.ID, k)
				}
				if other, dup := seen[k]; dup {
					t.Errorf("%s: %q is owned by %s and %s", ch.ID, k, other, st.ID)
				}
				seen[k] = st.ID
			}
		}
	}
}

// A verdict reads "label = 6.1%": the label of what a prediction measured
// does not carry the unit again in brackets ("(%) = 6.1%").
func TestMeasureLabelsCarryNoUnit(t *testing.T) {
	for _, ch := range catalog.All() {
		for _, st := range ch.Steps {
			if st.Prediction == nil || st.Prediction.Unit == "" {
				continue
			}
			key := "measure_" + strings.ReplaceAll(st.Prediction.ID, "-", "_")
			for _, lang := range assets.Langs() {
				if l := assets.FactLabel(lang, key); strings.HasSuffix(l, ")") && strings.Contains(l[strings.LastIndex(l, "("):], st.Prediction.Unit) {
					t.Errorf("%s %s/%s: %q repeats the unit %q", lang, ch.ID, st.ID, l, st.Prediction.Unit)
				}
			}
		}
	}
}
