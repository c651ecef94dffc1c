package scaling

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/engine"
	"testing"
	"time"
)

func TestScalingSmallMachineSaturatesLargestDoesNot(t *testing.T) {
	// the small size serves about 93 req/s (modelled); 150 req/s overloads it
	rep := chaptertest.RunStep(t, Scaling(), 1, 16*time.Second, chapters.Options{Rate: 150, Speed: 2}, "8s set app.size 2xlarge")
	fSmall, dSmall := chaptertest.FailedIn(rep, 3, 8)
	fBig, dBig := chaptertest.FailedIn(rep, 11, 16)
	t.Logf("small: %d/%d failed; 2xlarge: %d/%d failed", fSmall, dSmall, fBig, dBig)
	if fSmall*10 < dSmall {
		t.Errorf("the small machine should turn away over 10%% at 150 req/s: %d of %d", fSmall, dSmall)
	}
	if fBig != 0 || dBig == 0 {
		t.Errorf("the largest machine should serve 150 req/s without failures: %d of %d failed", fBig, dBig)
	}
	if got := chaptertest.Fact(t, rep, "cost_ratio_per_size"); got <= 2 {
		t.Errorf("cost per size step %.2f should be more than double (modelled)", got)
	}
}

func TestScalingSingleServerIsASinglePointOfFailure(t *testing.T) {
	rep := chaptertest.RunStep(t, Scaling(), 2, 24*time.Second, chapters.Options{Speed: 2}, "3s kill app-1\n8s restart app-1")
	if got := chaptertest.Fact(t, rep, "outage_failed_pct"); got < 99 {
		t.Errorf("with the only server down, %.1f%% failed; want every request", got)
	}
	if !chaptertest.Met(rep, "kill") || !chaptertest.Met(rep, "recover") {
		t.Errorf("objectives: %v", rep.Objectives)
	}
	up := -1
	for _, e := range rep.Events {
		if e.Kind == engine.EvUp {
			up = int(e.TMs / 1000)
		}
	}
	if up < 0 {
		t.Fatalf("app-1 never came back: %v", rep.Events)
	}
	if f, d := chaptertest.FailedIn(rep, up+1, 24); f != 0 || d == 0 {
		t.Errorf("after the restart %d of %d failed; want none", f, d)
	}
}

func TestScalingOutWithoutEntryPointFailsAThird(t *testing.T) {
	rep := chaptertest.RunStep(t, Scaling(), 3, 14*time.Second, chapters.Options{Rate: 150, Speed: 2}, "2s kill web-2")
	got := chaptertest.Fact(t, rep, "scale_out_failed_pct")
	if got < 20 || got > 47 {
		t.Errorf("clients that pick 1 of 3 servers at random should fail about a third when one is dead; got %.1f%%", got)
	}
}
