package chaptertest

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"scalelab/chapters"
	"scalelab/internal/testlock"
)

// played is which steps' solutions this test binary played.
var played = struct {
	sync.Mutex
	steps map[string]bool
}{steps: map[string]bool{}}

func stepKey(ch *chapters.Chapter, step int) string { return fmt.Sprintf("%s/%d", ch.ID, step) }

// PlaySolution plays a step's solution headless on the real components,
// as `scalelab run CHAPTER --step K --solution` does, and fails the test
// unless it meets every objective and measures the prediction. It returns
// the report, for the test to check the step's own claims.
func PlaySolution(t *testing.T, ch *chapters.Chapter, step int, opt chapters.Options) *chapters.Report {
	t.Helper()
	st := ch.Steps[step-1]
	if st.Solution.For <= 0 {
		t.Fatalf("%s step %d (%s) has no solution", ch.ID, step, st.ID)
	}
	rep := RunStep(t, ch, step, st.Solution.For, opt, st.Solution.Script)
	for _, o := range rep.Objectives {
		if !o.Met {
			t.Errorf("%s step %d (%s): its solution leaves objective %q unmet; lesson: %v; events: %v", ch.ID, step, st.ID, o.ID, rep.Lesson, rep.Events)
		}
	}
	if st.Prediction != nil && rep.Prediction == nil {
		t.Errorf("%s step %d (%s): its solution does not measure prediction %q; lesson: %v", ch.ID, step, st.ID, st.Prediction.ID, rep.Lesson)
	}
	checkUnits(t, rep)
	played.Lock()
	played.steps[stepKey(ch, step)] = true
	played.Unlock()
	return rep
}

// Main runs a chapter package's tests, taking turns with the other load
// test packages (testlock). When the whole package ran, it fails unless its
// tests played every step's solution: a new step cannot ship without one.
func Main(m *testing.M, ch *chapters.Chapter) int {
	code := testlock.Main(m)
	if code != 0 || filtered() {
		return code
	}
	played.Lock()
	defer played.Unlock()
	for i, st := range ch.Steps {
		if !played.steps[stepKey(ch, i+1)] {
			fmt.Fprintf(os.Stderr, "FAIL: %s: no test played the solution of step %d (%s); call chaptertest.PlaySolution\n", ch.ID, i+1, st.ID)
			code = 1
		}
	}
	return code
}

// filtered is whether only some tests ran (-run, -skip, -short or a list).
func filtered() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return testing.Short()
}

// checkUnits holds the report to its conventions: every request sent is
// ok, failed or unfinished; a *_ratio is a fraction in 0..1, a *_pct a
// percentage in 0..100; the correct choice counts from 1.
func checkUnits(t *testing.T, rep *chapters.Report) {
	t.Helper()
	for k, v := range rep.Lesson {
		f, ok := v.(float64)
		if !ok {
			continue
		}
		switch {
		case strings.HasSuffix(k, "_ratio") || strings.Contains(k, "_ratio_"):
			if f < 0 || f > 1 {
				t.Errorf("%s/%s: %s = %v is not a fraction in 0..1", rep.Chapter, rep.Step, k, f)
			}
		case strings.HasSuffix(k, "_pct") || strings.Contains(k, "_pct_"):
			if f < 0 || f > 100 {
				t.Errorf("%s/%s: %s = %v is not a percentage", rep.Chapter, rep.Step, k, f)
			}
		}
	}
	if q := rep.Requests; q.OK+q.Failed+q.Unfinished != q.Sent || q.Unfinished < 0 {
		t.Errorf("%s/%s: requests do not add up: %d ok + %d failed + %d unfinished != %d sent", rep.Chapter, rep.Step, q.OK, q.Failed, q.Unfinished, q.Sent)
	}
	if p := rep.Prediction; p != nil && p.Correct != nil && *p.Correct < 1 {
		t.Errorf("%s/%s: correct_choice %d does not count from 1", rep.Chapter, rep.Step, *p.Correct)
	}
}
