package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"scalelab/assets"
	"scalelab/chapters/catalog"
)

// run CHAPTER --knobs lists, step by step, every knob the step's topology
// registers, the values a set line takes and the lab key that cycles it,
// in English and in Korean.
func TestRunKnobs(t *testing.T) {
	code, stdout, stderr := runArgs(t, "", "run", "loadbalancer", "--knobs")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	steps := strings.Split(stdout, "\nstep ")
	if len(steps) != 4 {
		t.Fatalf("want a heading and 3 steps, got %d parts:\n%s", len(steps), stdout)
	}
	for _, want := range []struct {
		step int
		re   string
	}{
		{1, `lb\.policy +LB policy +round-robin \| least-conn \| p2c .* key p\n`},
		{1, `lb\.health +health checks +on \| off +set lines only\n`},
		{2, `lb\.health +health checks +on \| off +key c\n`},
		{2, `lb\.retries +retries +0 \| 1 \| 2 +key t\n`},
		{3, `other keys: a add web · d drain\n`},
	} {
		if !regexp.MustCompile(want.re).MatchString(steps[want.step]) {
			t.Errorf("step %d lacks %s:\n%s", want.step, want.re, steps[want.step])
		}
	}
	// every chapter: each keyed knob shows its key, in both languages
	for _, ch := range catalog.All() {
		for _, lang := range assets.Langs() {
			code, stdout, stderr := runArgs(t, "", "run", ch.ID, "--knobs", "--lang", lang)
			if code != 0 {
				t.Fatalf("%s --lang %s: exit %d: %s", ch.ID, lang, code, stderr)
			}
			ui := assets.UI(lang)
			for i, st := range ch.Steps {
				for _, k := range st.Keys {
					if k.Knob == "" {
						continue
					}
					line := fmt.Sprintf("  %s ", k.Knob)
					key := fmt.Sprintf(ui.T("knobs.key"), k.Key)
					if !strings.Contains(stdout, ui.T("knob."+k.Knob)) || !hasLine(stdout, line, key) {
						t.Errorf("%s --lang %s step %d: no line for %s with %q:\n%s", ch.ID, lang, i+1, k.Knob, key, stdout)
					}
				}
			}
		}
	}
	code, stdout, _ = runArgs(t, "", "run", "replication", "--knobs", "--step", "2", "--lang", "ko")
	if code != 0 || !strings.Contains(stdout, "2단계") || strings.Contains(stdout, "1단계") || !strings.Contains(stdout, "복제 모드") {
		t.Errorf("--step 2 --lang ko: exit %d:\n%s", code, stdout)
	}
	_, stdout, _ = runArgs(t, "", "run", "--help")
	if !strings.Contains(stdout, "--knobs") {
		t.Errorf("run --help does not mention --knobs")
	}
}

// hasLine reports whether some line of s starts with prefix and ends with
// suffix.
func hasLine(s, prefix, suffix string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

var update = flag.Bool("update", false, "rewrite README.md's generated knob list")

const (
	readmeKnobsBegin = "<!-- knobs: generated from the chapters by `go test ./cmd/scalelab -run TestReadmeKnobs -update` -->\n"
	readmeKnobsEnd   = "<!-- end of knobs -->\n"
)

// readmeKnobs is the README's list of chapter keys: per chapter, each key
// once (in step order) with the knob it cycles and the values, or what it
// does.
func readmeKnobs(t *testing.T) string {
	t.Helper()
	ui := assets.UI("en")
	var b strings.Builder
	for _, ch := range catalog.All() {
		steps, err := chapterKnobs(ch, -1)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]string{}
		for _, sk := range steps {
			for _, k := range sk.Knobs {
				values[k.Name] = strings.Join(k.Values, ", ")
			}
		}
		var items []string
		seen := map[string]bool{}
		for _, st := range ch.Steps {
			for _, k := range st.Keys {
				id := k.Key + "\x00" + k.Knob + "\x00" + k.Help
				if seen[id] {
					continue
				}
				seen[id] = true
				if k.Knob != "" {
					items = append(items, fmt.Sprintf("`%s` %s (`%s`: %s)", k.Key, ui.T("knob."+k.Knob), k.Knob, values[k.Knob]))
				} else {
					items = append(items, fmt.Sprintf("`%s` %s", k.Key, ui.KeyHelp(k.Help)))
				}
			}
		}
		if len(items) > 0 {
			fmt.Fprintf(&b, "- %d `%s`: %s\n", ch.Number, ch.ID, strings.Join(items, " · "))
		}
	}
	return b.String()
}

// The README's list of chapter keys and knobs is the chapters' own.
func TestReadmeKnobs(t *testing.T) {
	const path = "../../README.md"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i, j := strings.Index(s, readmeKnobsBegin), strings.Index(s, readmeKnobsEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no generated knob list (%q … %q)", readmeKnobsBegin, readmeKnobsEnd)
	}
	i += len(readmeKnobsBegin)
	want := readmeKnobs(t)
	if *update {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := s[i:j]; got != want {
		t.Errorf("README.md's knob list is not the chapters' (regenerate: go test ./cmd/scalelab -run TestReadmeKnobs -update)\nhave:\n%s\nwant:\n%s", got, want)
	}
}
