package lab

import (
	"scalelab/chapters/catalog"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"scalelab/assets"
	"scalelab/chapters"
)

// BenchmarkPausedCPU opens the load balancer chapter's first step in the
// TUI at 160×48, pauses the lab with space, and measures the process's CPU
// time over 5 s of wall time while paused. Target: under 2% of one core.
func BenchmarkPausedCPU(b *testing.B) {
	ch, err := catalog.Find("loadbalancer")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		r := newRunner(nil)
		ui := assets.UI("en")
		m := newModel(config{
			all: []*chapters.Chapter{ch}, lang: "en", tr: ui.T,
			factLabel:  func(k string) string { return assets.FactLabel("en", k) },
			loadLesson: func(id string) (*assets.Lesson, error) { return assets.LoadLesson("en", id) },
			runner:     r, store: &progressStore{dir: b.TempDir()},
		})
		tm := teatest.NewTestModel(b, m, teatest.WithInitialTermSize(160, 48),
			teatest.WithProgramOptions(tea.WithFilter(probeFilter)))
		r.setSend(tm.Send)
		until := func(want string) {
			teatest.WaitFor(b, strings.NewReader(""), func([]byte) bool { return strings.Contains(screenOf(tm), want) },
				teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(50*time.Millisecond))
		}
		until("web-3") // the step is open and drawn
		until("req/s") // and load is flowing
		tm.Send(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
		until("paused")
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now()
		time.Sleep(5 * time.Second) // the measurement window, not a synchronisation
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		wall := time.Since(start)
		cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%-of-one-core")
		tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
		tm.WaitFinished(b, teatest.WithFinalTimeout(15*time.Second))
		if err := r.closeAll(); err != nil {
			b.Fatal(err)
		}
	}
}
