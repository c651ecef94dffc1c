package chapters_test

import (
	"os"
	"path/filepath"
	"regexp"
	"scalelab/engine/cache"
	"scalelab/engine/lb"
	"scalelab/engine/repl"
	"slices"
	"sort"
	"strings"
	"testing"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// TestLessonText checks that every chapter's words exist in every language:
// each step id has a title and body, each prediction its question and
// exactly Choices choices (none when it asks for a number), each objective
// its text, and the lesson has no steps or objectives the chapter lacks.
func TestLessonText(t *testing.T) {
	for _, ch := range chapters.All() {
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
	for _, ch := range chapters.All() {
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

// TestLessonTextFacts checks that the facts the chapters latch have labels.
// It reads the fact keys written as literals in the chapters' source, plus
// the ones built at run time; "n_" counters are not reported.
func TestLessonTextFacts(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`(?:Facts\[|latchP99\(r, )"([a-z0-9_]+)"`)
	keys := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			keys[m[1]] = true
		}
	}
	if len(keys) == 0 {
		t.Fatal("found no fact keys in the chapters' source")
	}
	for _, p := range lb.PolicyNames() {
		keys["p99_ms_"+strings.ReplaceAll(p, "-", "_")] = true
	}
	for _, store := range []string{"sql", "kv"} {
		for _, op := range []engine.Op{engine.OpRead, engine.OpFeed, engine.OpWrite} {
			keys[store+"_"+string(op)+"_p50_ms"] = true
		}
	}
	// chapter 4 builds names from knob values
	for _, d := range []string{"50ms", "200ms", "1s"} {
		keys["stale_per_1k_reads_"+d] = true
	}
	for _, m := range []string{repl.ModeAsync, repl.ModeSemiSync} {
		keys["lost_writes_"+strings.ReplaceAll(m, "-", "_")] = true
		keys["write_p50_ms_"+strings.ReplaceAll(m, "-", "_")] = true
	}
	for _, v := range []string{"0", "1"} {
		keys["split_brain_writes_min_replicas_"+v] = true
	}
	// chapter 5 builds names from knob values
	for _, keys_ := range chapters.CacheKeyDists {
		for _, ttl := range chapters.CacheTTLs {
			keys["hit_pct_"+keys_+"_"+ttl] = true
			keys["db_reads_per_s_"+keys_+"_"+ttl] = true
		}
	}
	for _, p := range cache.CachePatterns() {
		keys["stale_per_1k_reads_"+strings.ReplaceAll(p, "-", "_")] = true
	}
	for _, m := range chapters.CacheMemories {
		keys["hit_pct_mem_"+strings.ToLower(m)] = true
		keys["evictions_per_s_mem_"+strings.ToLower(m)] = true
	}
	// chapter 6: latency by region and route, cost by route
	for _, reg := range []string{"us", "eu", "ap"} {
		for _, route := range []string{"origin", "cdn"} {
			keys["p50_ms_"+reg+"_"+route] = true
		}
	}
	for _, route := range []string{"origin", "cdn"} {
		keys["egress_usd_per_h_"+route] = true
	}
	for k := range keys {
		// "n_" counters are not reported; a key ending in _ is a prefix
		// completed at run time, listed above
		if strings.HasPrefix(k, "n_") || strings.HasSuffix(k, "_") {
			continue
		}
		// assets' own tests check every language has the same labels
		if assets.FactLabel("en", k) == k {
			t.Errorf("fact %s has no label", k)
		}
	}
}
