package lab

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"scalelab/chapters/catalog"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// flowChapter is a small real system: a public entry and a web server on
// loopback with load, built from engine servers so the flow test does not
// depend on a chapter's topology.
func flowChapter() *chapters.Chapter {
	build := func(sys *engine.System, opt chapters.Options) (*engine.System, error) {
		ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		lb := engine.NewServer(engine.ServerConfig{Name: "lb-1", Role: "lb", Layer: engine.LayerEntry}, sys.Clock, sys.Events, ok)
		web := engine.NewServer(engine.ServerConfig{Name: "web-1", Role: "web", Layer: engine.LayerWeb}, sys.Clock, sys.Events, ok)
		for _, n := range []engine.Node{lb, web} {
			if err := sys.AddNode(n); err != nil {
				return nil, err
			}
		}
		sys.AddLink("lb-1", "web-1")
		cfg := engine.DefaultLoadConfig()
		cfg.Rate, cfg.Entry = 40, lb.URL
		load, err := engine.NewLoad(cfg, sys.Clock)
		if err != nil {
			return nil, err
		}
		sys.SetLoad(load)
		return sys, nil
	}
	return &chapters.Chapter{ID: "flow", Number: 1, Steps: []chapters.Step{
		chapters.StepOf[*engine.System]{ID: "one", Build: build, Objectives: []chapters.ObjectiveOf[*engine.System]{{ID: "kill", Check: func(r *chapters.Run, _ *engine.System) bool {
			_, ok := r.LastEvent(engine.EvKill, "")
			return ok
		}}}}.Step(),
	}}
}

// probe asks the running program for its screen. A program filter (test
// code) answers it on the program's own goroutine, so reading the model is
// safe; the output stream itself is diffs, not screens.
type probe struct{ reply chan string }

func probeFilter(m tea.Model, msg tea.Msg) tea.Msg {
	if p, ok := msg.(probe); ok {
		p.reply <- ansi.Strip(m.(*model).render())
		return nil
	}
	return msg
}

// screenOf asks a running test program for its screen ("" if it does not
// answer within a second).
func screenOf(tm *teatest.TestModel) string {
	reply := make(chan string, 1)
	tm.Send(probe{reply})
	select {
	case s := <-reply:
		return s
	case <-time.After(time.Second):
		return ""
	}
}

// TestFlowKillAndQuit drives a real session: select a node with tab, kill
// it with x, see the kill in the event log, quit with q, and find the
// step's temp dir gone.
func TestFlowKillAndQuit(t *testing.T) {
	ch := flowChapter()
	var mu sync.Mutex
	var dirs []string
	r := newRunner(func(c *chapters.Chapter, i int) (*chapters.Session, error) {
		s, err := chapters.Open(c, i, chapters.Options{})
		if err == nil {
			mu.Lock()
			dirs = append(dirs, s.Sys.Dir)
			mu.Unlock()
		}
		return s, err
	})
	cfgDir := t.TempDir()
	m := newModel(config{
		all: []*chapters.Chapter{ch}, lang: "en", noColor: true,
		tr: testWords(t), factLabel: func(k string) string { return k },
		loadLesson: func(string) (*assets.Lesson, error) { return nil, errors.New("no lesson") },
		runner:     r, store: &progressStore{dir: cfgDir},
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 36),
		teatest.WithProgramOptions(tea.WithFilter(probeFilter)))
	r.setSend(tm.Send)
	t.Cleanup(func() { _ = tm.Quit(); _ = r.closeAll() }) // when a check fails early
	last := ""
	wait := func(want string) {
		t.Helper()
		ok := func([]byte) bool {
			last = screenOf(tm)
			return strings.Contains(last, want)
		}
		defer func() {
			if t.Failed() {
				t.Logf("waiting for %q; last screen:\n%s", want, last)
			}
		}()
		// the output stream is diffs, so the condition asks for the screen
		teatest.WaitFor(t, strings.NewReader(""), ok,
			teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}

	wait("web-1")                              // the first snapshot is drawn
	tm.Send(tea.KeyPressMsg{Code: tea.KeyTab}) // lb-1
	tm.Send(tea.KeyPressMsg{Code: tea.KeyTab}) // web-1
	tm.Send(tea.KeyPressMsg{Code: 'x', Text: "x"})
	wait("crashed") // the engine's kill event, in the event log
	wait("✓ kill")  // and the objective met (no lesson: its id is its text)
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	tm.WaitFinished(t, teatest.WithFinalTimeout(15*time.Second))

	mu.Lock()
	defer mu.Unlock()
	if len(dirs) != 1 {
		t.Fatalf("opened %d sessions, want 1", len(dirs))
	}
	if _, err := os.Stat(dirs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still exists after quit (%v)", dirs[0], err)
	}
	r.mu.Lock()
	live := len(r.live)
	r.mu.Unlock()
	if live != 0 {
		t.Errorf("%d sessions still live", live)
	}
	// every goroutine the lab, its session and the program started has ended
	deadline := time.Now().Add(5 * time.Second)
	left := leaked()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		left = leaked()
	}
	if len(left) > 0 {
		t.Errorf("%d goroutines left after quit:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	p, err := LoadProgress(cfgDir)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Chapters["flow"].Met["one/kill"] {
		t.Errorf("progress did not record the objective: %+v", p.Chapters["flow"])
	}
}

// TestFlowRealChapter runs the load balancer chapter's first step when its
// topology builds: kill a web server, see it in the event log, quit.
func TestFlowRealChapter(t *testing.T) {
	ch, err := catalog.Find("loadbalancer")
	if err != nil {
		t.Fatal(err)
	}
	s, err := chapters.Open(ch, 0, chapters.Options{})
	if err != nil {
		t.Fatalf("loadbalancer step 1 does not build: %v", err)
	}
	_ = s.Close()
	r := newRunner(nil)
	ui := assets.UI("en")
	m := newModel(config{
		all: []*chapters.Chapter{ch}, lang: "en", noColor: true, tr: ui.T,
		factLabel:  func(k string) string { return assets.FactLabel("en", k) },
		loadLesson: func(id string) (*assets.Lesson, error) { return assets.LoadLesson("en", id) },
		runner:     r,
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(160, 48),
		teatest.WithProgramOptions(tea.WithFilter(probeFilter)))
	r.setSend(tm.Send)
	t.Cleanup(func() { _ = tm.Quit(); _ = r.closeAll() })
	screenNow := func() string { return screenOf(tm) }
	last := ""
	wait := func(what string, cond func(string) bool) {
		t.Helper()
		defer func() {
			if t.Failed() {
				t.Logf("waiting for %s; last screen:\n%s", what, last)
			}
		}()
		teatest.WaitFor(t, strings.NewReader(""), func([]byte) bool { last = screenNow(); return cond(last) },
			teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("the first snapshot", func(s string) bool { return strings.Contains(s, "⏱") })
	for i := 0; i < 20 && !strings.Contains(screenNow(), "nodes · web-1 ─"); i++ {
		tm.Send(tea.KeyPressMsg{Code: tea.KeyTab})
	}
	tm.Send(tea.KeyPressMsg{Code: 'x', Text: "x"})
	wait("the kill in the event log", func(s string) bool { return killedWeb1.MatchString(s) })
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	tm.WaitFinished(t, teatest.WithFinalTimeout(15*time.Second))
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.live) != 0 {
		t.Errorf("%d sessions still live after quit", len(r.live))
	}
}

// TestRunCancelLeavesNothing runs the whole lab on a pipe and cancels it:
// Run returns, and the step's temporary directory is gone.
func TestRunCancelLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watchWriter{want: []byte("scalelab"), seen: make(chan struct{})}
	inR, inW := io.Pipe()
	defer inW.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Course: catalog.All(), Chapter: "1", Lang: "en", ConfigDir: cfg, Out: out, In: inR})
	}()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("nothing drawn in 20s")
	}
	// wait until the step is up (its temp dir exists), then cancel
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step's temp dir did not appear in 20s: the step never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("Run did not return after cancel:\n%s", buf[:n])
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left behind in TMPDIR: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(cfg, ProgressFile)); err != nil {
		t.Errorf("progress not saved: %v", err)
	}
}

func TestRunUnknownChapter(t *testing.T) {
	err := Run(context.Background(), Options{Course: catalog.All(), Chapter: "nope", ConfigDir: t.TempDir(), Out: io.Discard, In: strings.NewReader("")})
	if !errors.Is(err, chapters.ErrUnknownChapter) {
		t.Errorf("err = %v, want ErrUnknownChapter", err)
	}
}

// watchWriter signals once its output has contained want.
type watchWriter struct {
	mu   sync.Mutex
	buf  []byte
	want []byte
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if strings.Contains(string(w.buf), string(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// leaked returns the stacks of goroutines that belong to the lab, the
// engine, the HTTP servers and clients or the program (not to teatest's own
// signal watcher or the test runner).
func leaked() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "scalelab/") && !strings.Contains(g, "scalelab/lab.Test") ||
			strings.Contains(g, "net/http") || strings.Contains(g, "charm.land/bubbletea") {
			out = append(out, g)
		}
	}
	return out
}

// killedWeb1 is web-1's kill event in the event log, whatever its columns' widths.
var killedWeb1 = regexp.MustCompile(`web-1 +crashed`)
