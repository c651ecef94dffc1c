// Package chaptertest has the helpers the chapters' tests share: run a step
// headless and read its report, check fact labels. Only tests import it.
package chaptertest

import (
	"os"
	"path/filepath"
	"regexp"
	"scalelab/assets"
	"strings"
	"testing"
)

// CheckFactLabels checks that the facts a chapter latches have labels in
// every language. It
// reads the fact keys written as literals in the chapter's source (the test's
// working directory), plus extra: the ones built at run time; "n_" counters
// are not reported, and a key ending in _ is a prefix completed at run time.
func CheckFactLabels(t *testing.T, extra ...string) {
	t.Helper()
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
		t.Fatal("found no fact keys in the chapter's source")
	}
	for _, k := range extra {
		keys[k] = true
	}
	for k := range keys {
		if strings.HasPrefix(k, "n_") || strings.HasSuffix(k, "_") {
			continue
		}
		if assets.FactLabel("en", k) == k {
			t.Errorf("fact %s has no label", k)
			continue
		}
		// a label a language lacks falls back to English: the debrief and
		// the report would show it in English
		for _, lang := range assets.Langs() {
			if lang != "en" && assets.FactLabel(lang, k) == assets.FactLabel("en", k) {
				t.Errorf("fact %s has no %s label", k, lang)
			}
		}
	}
}
