package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"scalelab/chapters"
)

func TestProgressRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "scalelab")
	p, err := LoadProgress(dir)
	if err != nil || len(p.Chapters) != 0 {
		t.Fatalf("missing file: %v, %v", p, err)
	}
	cp := p.Chapter("loadbalancer")
	cp.Step = 2
	cp.Met["health/kill-protected"] = true
	cp.Predictions["best-policy"] = 2
	cp.Facts["p99_rr_ms"] = 48.5
	p.Chapter("tiers").Done = true
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadProgress(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != ProgressFile {
		t.Errorf("dir holds %v, want only %s (no temp files)", ents, ProgressFile)
	}
}

func TestProgressCorruptIsSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ProgressFile)
	if err := os.WriteFile(path, []byte(`{"chapters": {"tiers": {"step": "two"`), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	p, err := LoadProgress(dir)
	if !errors.Is(err, ErrCorruptProgress) {
		t.Fatalf("err = %v, want ErrCorruptProgress", err)
	}
	if p == nil || p.Chapters == nil || len(p.Chapters) != 0 {
		t.Fatalf("progress = %+v, want empty and usable", p)
	}
	p.Chapter("tiers").Step = 1 // usable
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("set-aside files: %v", matches)
	}
	if !strings.Contains(err.Error(), matches[0]) {
		t.Errorf("error %q does not name the set-aside file %s", err, matches[0])
	}
	var stamp int64
	if _, serr := fmt.Sscan(strings.TrimPrefix(matches[0], path+".corrupt-"), &stamp); serr != nil || stamp < before {
		t.Errorf("set-aside name %s has no unix time", matches[0])
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt file still at %s", path)
	}
	// a second load starts clean
	if _, err := LoadProgress(dir); err != nil {
		t.Errorf("second load: %v", err)
	}
	// three more corruptions, at once: every one is kept
	for i := range 3 {
		if err := os.WriteFile(path, []byte(fmt.Sprintf("not json %d", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadProgress(dir); !errors.Is(err, ErrCorruptProgress) {
			t.Fatalf("corruption %d: %v", i, err)
		}
	}
	matches, _ = filepath.Glob(path + ".corrupt-*")
	kept := map[string]bool{}
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		kept[string(b)] = true
	}
	for i := range 3 {
		if !kept[fmt.Sprintf("not json %d", i)] {
			t.Errorf("corruption %d was overwritten: set aside %v", i, matches)
		}
	}
}

func TestProgressNext(t *testing.T) {
	all := []*chapters.Chapter{
		{ID: "a", Number: 1, Steps: make([]chapters.Step, 3)},
		{ID: "b", Number: 2, Steps: make([]chapters.Step, 2)},
		{ID: "c", Number: 3, Steps: make([]chapters.Step, 2)},
	}
	tests := []struct {
		name string
		p    map[string]*ChapterProgress
		ch   string
		step int
	}{
		{"new learner", nil, "a", 0},
		{"mid chapter", map[string]*ChapterProgress{"a": {Step: 2}}, "a", 2},
		{"first done", map[string]*ChapterProgress{"a": {Done: true}}, "b", 0},
		{"resume second", map[string]*ChapterProgress{"a": {Done: true}, "b": {Step: 1}}, "b", 1},
		{"step out of range", map[string]*ChapterProgress{"a": {Step: 9}}, "a", 2},
		{"skipped ahead", map[string]*ChapterProgress{"b": {Done: true}}, "a", 0},
		{"all done", map[string]*ChapterProgress{"a": {Done: true}, "b": {Done: true}, "c": {Done: true}}, "c", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Progress{Chapters: tt.p}
			ch, step := p.Next(all)
			if ch.ID != tt.ch || step != tt.step {
				t.Errorf("Next = %s/%d, want %s/%d", ch.ID, step, tt.ch, tt.step)
			}
		})
	}
	if ch, _ := (&Progress{}).Next(nil); ch != nil {
		t.Errorf("no chapters: got %v", ch)
	}
}

func TestNumericFacts(t *testing.T) {
	got := numericFacts(map[string]any{
		"a": 1.5, "b": 3, "c": "text", "d": map[string]float64{"rr": 40}, "e": time.Duration(2500) * time.Microsecond,
		measuredPrefix + "x": 1.0,
	})
	want := map[string]float64{"a": 1.5, "b": 3, "d.rr": 40, "e": 2.5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A fact belongs to the earliest step that measured it: a later step that
// measures the same thing does not overwrite it, the step itself played
// again does, and a progress file from before fact_steps still loads.
func TestFactOwnedByEarliestStep(t *testing.T) {
	cp := newProgress().Chapter("replication")
	cp.setFact(2, "lost_writes_first_failover", 4)
	cp.setFact(4, "lost_writes_first_failover", 110)
	if got := cp.Facts["lost_writes_first_failover"]; got != 4 {
		t.Errorf("after step 5 measured 110, the fact is %v, want step 3's 4", got)
	}
	cp.setFact(2, "lost_writes_first_failover", 6)
	if got := cp.Facts["lost_writes_first_failover"]; got != 6 {
		t.Errorf("step 3 again measured 6: the fact is %v", got)
	}
	cp.setFact(1, "lost_writes_first_failover", 1)
	if got, owner := cp.Facts["lost_writes_first_failover"], cp.FactSteps["lost_writes_first_failover"]; got != 1 || owner != 1 {
		t.Errorf("an earlier step measured 1: the fact is %v from step %d", got, owner)
	}
	var old Progress
	if err := json.Unmarshal([]byte(`{"chapters":{"tiers":{"step":1,"facts":{"x":3}}}}`), &old); err != nil {
		t.Fatal(err)
	}
	oc := old.Chapter("tiers")
	oc.setFact(0, "x", 5)
	if oc.Facts["x"] != 5 {
		t.Errorf("an old file's fact was not replaced: %v", oc.Facts["x"])
	}
}

// A chapter's run totals (counters every step reports about its own run)
// stay out of the progress the debrief reads; the step's measurements go in.
func TestRunTotalsStayOutOfTheDebrief(t *testing.T) {
	ch := fixtureChapter()
	ch.RunTotals = []string{"evictions", "share_by_dc"}
	m, fs := openStep(t, []*chapters.Chapter{ch}, 0, 0, fixtureSnapshot())
	fs.facts = map[string]any{"evictions": 0.0, "hit_pct_mem_16kb": 51.3, "share_by_dc": map[string]float64{"us": 60, "eu": 40}}
	m.collectFacts()
	cp := m.prog.Chapter(ch.ID)
	for _, k := range []string{"evictions", "share_by_dc.us", "share_by_dc.eu"} {
		if _, ok := cp.Facts[k]; ok {
			t.Errorf("a run total (%s) reached the debrief's facts: %v", k, cp.Facts)
		}
	}
	if cp.Facts["hit_pct_mem_16kb"] != 51.3 {
		t.Errorf("the step's measurement is missing: %v", cp.Facts)
	}
}

// A fact a step owns is the debrief's figure from that step only: an
// earlier step that measured it too (chapter 5's stampede figure, 1.4
// reads per expiry at step 1 against 22.5 at step 5) does not win.
func TestOwnedFactFromItsStep(t *testing.T) {
	ch := fixtureChapter()
	ch.Steps[1].Owns = []string{"stampede_db_reads"}
	m, fs := openStep(t, []*chapters.Chapter{ch}, 0, 0, fixtureSnapshot())
	fs.facts = map[string]any{"stampede_db_reads": 1.4}
	m.collectFacts()
	if _, ok := m.prog.Chapter(ch.ID).Facts["stampede_db_reads"]; ok {
		t.Errorf("step 1 set a fact step 2 owns")
	}
	run(m, m.next())
	fs2 := feedSession(m, fixtureSnapshot())
	fs2.facts = map[string]any{"stampede_db_reads": 22.5}
	m.collectFacts()
	if got := m.prog.Chapter(ch.ID).Facts["stampede_db_reads"]; got != 22.5 {
		t.Errorf("the owning step's figure is %v, want 22.5", got)
	}
}
