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
