package chaptertest

import (
	"context"
	"scalelab/chapters"
	"scalelab/engine"
	"testing"
	"time"
)

// RunStep runs a step headless for dur with a chaos script and returns its report.
func RunStep(t *testing.T, ch *chapters.Chapter, step int, dur time.Duration, opt chapters.Options, script string) *chapters.Report {
	t.Helper()
	lines, err := engine.ParseScript("chaos", script)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := chapters.Headless(context.Background(), chapters.RunConfig{Chapter: ch, Step: step - 1, Duration: dur, Options: opt, Script: lines})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func Fact(t *testing.T, rep *chapters.Report, key string) float64 {
	t.Helper()
	v, ok := rep.Lesson[key]
	if !ok {
		t.Fatalf("%s/%s: no %s measured; lesson: %v; events: %v", rep.Chapter, rep.Step, key, rep.Lesson, rep.Events)
	}
	return v.(float64)
}

func Met(rep *chapters.Report, id string) bool {
	for _, o := range rep.Objectives {
		if o.ID == id {
			return o.Met
		}
	}
	return false
}

// failedIn sums failures over load seconds [from, to).
func FailedIn(rep *chapters.Report, from, to int) (failed, done int64) {
	for _, p := range rep.Series {
		if p.Sec >= from && p.Sec < to {
			failed += p.Failed
			done += p.OK + p.Failed
		}
	}
	return
}

// Until returns a wait for an open session: it observes the session's
// snapshots until cond holds, failing the test when limit of lab time (or
// 10 s of real time with no snapshot) passes first.
func Until(t *testing.T, s *chapters.Session) func(what string, limit time.Duration, cond func() bool) {
	snaps := s.Sys.Subscribe()
	return func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := s.Sys.Clock.Now() + limit
		for !cond() {
			if s.Sys.Clock.Now() > deadline {
				t.Fatalf("%s: not within %s of lab time; events: %v", what, limit, s.Run.Events)
			}
			select {
			case snap := <-snaps:
				s.Observe(snap)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no snapshot for 10 s of real time", what)
			}
		}
	}
}
