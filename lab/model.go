package lab

import (
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// config is what the root model is made from; tests fill it with fakes.
type config struct {
	all        []*chapters.Chapter
	start      int // chapter index
	step       int
	lang       string
	noColor    bool
	tr         func(string) string
	factLabel  func(string) string
	loadLesson func(chapterID string) (*assets.Lesson, error)
	progress   *Progress
	store      *progressStore
	runner     *runner
	status     string // shown at start (e.g. a corrupt progress file)
}

type mode int

const (
	modeStep mode = iota
	modeDebrief
)

// model is the root: it routes messages, owns the session and the
// progress, and lays the panes out. Panes decide what they draw.
type model struct {
	c    *common
	cfg  config
	run  *runner
	prog *Progress

	chIdx, stepIdx int
	lesson         *assets.Lesson
	mode           mode

	nextID  int
	want    int          // id of the session opening or running
	cur     *liveSession // the running session
	opening bool
	hasSnap bool
	snap    engine.Snapshot

	showHelp, showInspector bool
	quitting                bool
	cols                    []column

	status    string
	statusErr bool
	statusID  int

	stopped  chan struct{} // closed when the lab stops: timers end
	stopOnce sync.Once

	spinner   spinner.Model
	help      help.Model
	header    *headerPane
	lessonP   *lessonPane
	topo      *topoPane
	charts    *chartsPane
	stats     *statsPane
	events    *eventsPane
	inspector *inspectorPane
	debrief   *debriefPane
	helpP     *helpPane
}

var (
	_ pane = (*headerPane)(nil)
	_ pane = (*lessonPane)(nil)
	_ pane = (*topoPane)(nil)
	_ pane = (*chartsPane)(nil)
	_ pane = (*statsPane)(nil)
	_ pane = (*eventsPane)(nil)
	_ pane = (*inspectorPane)(nil)
	_ pane = (*debriefPane)(nil)
	_ pane = (*helpPane)(nil)
)

type statusClearMsg struct{ id int }

// savedMsg reports a progress write.
type savedMsg struct{ err error }

func newModel(cfg config) *model {
	c := &common{
		width: 80, height: 24,
		styles:    NewStyles(cfg.noColor),
		keys:      DefaultKeyMap(cfg.tr),
		lang:      cfg.lang,
		tr:        cfg.tr,
		factLabel: cfg.factLabel,
	}
	if cfg.progress == nil {
		cfg.progress = newProgress()
	}
	if cfg.runner == nil {
		cfg.runner = newRunner(nil)
	}
	m := &model{c: c, cfg: cfg, run: cfg.runner, prog: cfg.progress, chIdx: -1, stopped: make(chan struct{})}
	m.spinner = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(c.styles.Accent.ls))
	m.help = help.New()
	m.help.Styles = c.styles.Help
	m.header = &headerPane{c: c}
	m.lessonP = newLessonPane(c)
	m.topo = newTopoPane(c)
	m.charts = newChartsPane(c)
	m.stats = &statsPane{c: c}
	m.events = &eventsPane{c: c}
	m.inspector = &inspectorPane{c: c, topo: m.topo}
	m.debrief = &debriefPane{c: c}
	m.helpP = &helpPane{c: c, help: m.help}
	if cfg.status != "" {
		m.status, m.statusErr = cfg.status, true
	}
	return m
}

// Init opens the first step.
func (m *model) Init() tea.Cmd {
	if len(m.cfg.all) == 0 {
		return nil
	}
	return m.gotoStep(m.cfg.start, m.cfg.step)
}

// Update routes: window and session messages to the root, keys to the
// global map first and then to the focused pane, snapshots to every pane.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		cmd = m.onKey(msg)
	case snapshotMsg:
		cmd = m.onSnapshot(msg)
	case openedMsg:
		cmd = m.onOpened(msg)
	case closedMsg:
		if msg.err != nil {
			cmd = m.flash(m.c.T("error")+": "+msg.err.Error(), true)
		}
	case predictedMsg:
		cmd = m.onPredicted(msg)
	case savedMsg:
		if msg.err != nil {
			cmd = m.flash(msg.err.Error(), true)
		}
	case statusClearMsg:
		if msg.id == m.statusID {
			m.status, m.statusErr = "", false
		}
	case spinner.TickMsg:
		if m.opening { // no ticks otherwise: an idle lab draws nothing
			m.spinner, cmd = m.spinner.Update(msg)
		}
	}
	m.sync()
	return m, cmd
}

// onKey handles the global keys, then hands the key to the focused pane.
func (m *model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.keys
	if m.showHelp && msg.String() != "ctrl+c" && !m.quitting {
		m.showHelp = false // any key closes the help screen, q too
		return nil
	}
	if key.Matches(msg, k.Quit) {
		return m.quit()
	}
	if m.quitting {
		return nil
	}
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, k.NextStep):
		return m.next()
	case key.Matches(msg, k.PrevStep):
		return m.back()
	case key.Matches(msg, k.NextChapter):
		return m.gotoChapter(m.chIdx + 1)
	case key.Matches(msg, k.PrevChapter):
		return m.gotoChapter(m.chIdx - 1)
	case key.Matches(msg, k.Inspect):
		m.showInspector = !m.showInspector
		return nil
	case key.Matches(msg, k.Hint):
		// h: the hint; again: the solution too; again: neither
		m.lessonP.hintTier = (m.lessonP.hintTier + 1) % 3
		m.lessonP.offset = 0
		return nil
	case key.Matches(msg, k.Select, k.SelectPrev):
		return m.topo.Update(msg)
	}
	if m.mode == modeDebrief {
		return m.debrief.Update(msg)
	}
	if a, ok := m.actionFor(msg); ok {
		if a.Kind == engine.ActKill || a.Kind == engine.ActRestart || a.Kind == engine.ActLatency {
			m.topo.kept = false // the selection was used: the next tab moves on
		}
		return m.apply(a)
	}
	return m.lessonP.Update(msg)
}

// quit closes every session in a command, then quits.
func (m *model) quit() tea.Cmd {
	if m.quitting {
		return nil
	}
	m.quitting = true
	m.stop()
	m.collectFacts()
	m.cur = nil
	return tea.Sequence(m.saveCmd(), m.run.quitCmd())
}

// flash shows a status message for a few seconds.
func (m *model) flash(s string, isErr bool) tea.Cmd {
	m.statusID++
	id := m.statusID
	m.status, m.statusErr = s, isErr
	d := 3 * time.Second
	if isErr {
		d = 6 * time.Second
	}
	stopped := m.stopped
	return func() tea.Msg {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return statusClearMsg{id: id}
		case <-stopped:
			return nil
		}
	}
}

// stop ends the model's timers; it is idempotent.
func (m *model) stop() { m.stopOnce.Do(func() { close(m.stopped) }) }

// sync sets the keys and the panes' state after every message.
func (m *model) sync() {
	n, l := m.topo.selected()
	up, down := selectedState(n)
	choices, number := m.lessonP.open()
	if m.mode == modeDebrief {
		choices, number = 0, false
	}
	m.stats.hide = nil // the gauges that show an open prediction's answer
	if p := m.lessonP.step; p != nil && p.Prediction != nil && !m.lessonP.answered && !m.lessonP.skipped {
		m.stats.hide = p.Prediction.GaugeHidden
	}
	live := m.cur != nil && m.hasSnap && m.mode == modeStep
	ch := m.chapter()
	st := keyState{
		live:       live,
		node:       n != nil,
		link:       l != nil,
		nodeUp:     up,
		nodeDown:   down,
		selectable: len(m.topo.items()) > 0,
		paused:     m.snap.Paused,
		load:       m.snap.Rate > 0 || m.snap.BaseRate > 0 || len(m.snap.Series) > 0,
		choices:    choices,
		number:     number,
		typing:     m.lessonP.input != "",
		hasNext:    ch != nil && (m.mode == modeStep || m.chIdx+1 < len(m.cfg.all)),
		hasPrev:    ch != nil && (m.mode == modeDebrief || m.stepIdx > 0),
		hasNextCh:  m.chIdx+1 < len(m.cfg.all),
		hasPrevCh:  m.chIdx > 0,
		debrief:    m.mode == modeDebrief,
		scrollable: m.scrollable(),
		hasHint:    m.mode == modeStep,
		stepEnabled: func(sk StepKey) bool {
			if sk.Def.Knob != "" {
				return m.snap.Knob(sk.Def.Knob) != ""
			}
			if sk.Def.Target == "" && sk.Def.Action != engine.ActAdd {
				return n != nil
			}
			return true
		},
	}
	if n == nil && l == nil {
		m.showInspector = false // nothing to inspect
	}
	m.c.keys.apply(st)
	m.header.starting, m.topo.waiting = "", ""
	if m.opening {
		m.header.starting = m.spinner.View() + " " + m.c.T("starting")
		m.topo.waiting = m.header.starting
	}
	m.header.debrief = m.mode == modeDebrief
	m.layout()
}

func (m *model) scrollable() bool {
	if m.mode == modeDebrief {
		return m.debrief.maxOff > 0
	}
	return m.lessonP.scrollable()
}

func (m *model) chapter() *chapters.Chapter {
	if m.chIdx < 0 || m.chIdx >= len(m.cfg.all) {
		return nil
	}
	return m.cfg.all[m.chIdx]
}

// View draws the screen; only the root returns a tea.View.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "scalelab"
	return v
}
