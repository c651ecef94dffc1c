package lab

import (
	"fmt"
	"math"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// gotoStep leaves the running step (closing it in a command) and opens
// another, in a command too; a spinner runs until it is up.
func (m *model) gotoStep(chIdx, stepIdx int) tea.Cmd {
	if chIdx < 0 || chIdx >= len(m.cfg.all) {
		return nil
	}
	cmds := []tea.Cmd{m.leave()}
	ch := m.cfg.all[chIdx]
	stepIdx = clampStep(ch, stepIdx)
	if chIdx != m.chIdx || m.lesson == nil {
		m.lesson = m.loadLesson(ch)
	}
	m.chIdx, m.stepIdx, m.mode = chIdx, stepIdx, modeStep
	m.showInspector = false
	m.hasSnap, m.snap = false, engine.Snapshot{}
	m.topo.reset()
	m.topo.preselect(ch.Steps[stepIdx].Select)
	m.header.snap, m.charts.snap, m.stats.snap, m.events.snap = nil, nil, nil, nil
	m.charts.fail.reset()

	step := &ch.Steps[stepIdx]
	text, _ := m.lesson.Step(step.ID)
	cp := m.prog.Chapter(ch.ID)
	cp.Step = stepIdx
	var answer float64
	answered := false
	if step.Prediction != nil {
		answer, answered = cp.Predictions[step.Prediction.ID]
	}
	m.lessonP.setStep(step, text, stepIdx+1, len(ch.Steps), answer, answered)
	m.lessonP.setLive(m.metFunc(), false, 0, false)
	m.c.keys.SetStepKeys(step.Keys, m.c.helpLabel)
	m.stats.knobKeys = map[string]string{}
	for _, k := range m.c.keys.Step {
		if k.Def.Knob != "" {
			m.stats.knobKeys[k.Def.Knob] = k.Def.Key
		}
	}
	m.header.chapter = fmt.Sprintf("%d/%d %s", ch.Number, max(ch.Number, len(m.cfg.all)), m.lessonTitle(ch))
	m.header.step = fmt.Sprintf("%d/%d %s", stepIdx+1, len(ch.Steps), text.Title)

	m.nextID++
	m.want = m.nextID
	m.opening = true
	cmds = append(cmds, m.run.openCmd(m.want, ch, stepIdx), m.spinner.Tick, m.saveCmd())
	return tea.Batch(cmds...)
}

func (m *model) lessonTitle(ch *chapters.Chapter) string {
	if m.lesson != nil && m.lesson.Title != "" {
		return m.lesson.Title
	}
	return ch.ID
}

func (m *model) loadLesson(ch *chapters.Chapter) *assets.Lesson {
	if m.cfg.loadLesson != nil {
		if l, err := m.cfg.loadLesson(ch.ID); err == nil && l != nil {
			return l
		}
	}
	return &assets.Lesson{ID: ch.ID, Title: ch.ID}
}

// leave collects the running step's facts and closes it.
func (m *model) leave() tea.Cmd {
	m.opening = false
	if m.cur == nil {
		return nil
	}
	m.collectFacts()
	ls := m.cur
	m.cur = nil
	return m.run.closeCmd(ls)
}

// collectFacts copies the step's numeric lesson facts into the progress.
func (m *model) collectFacts() {
	ch := m.chapter()
	if m.cur == nil || ch == nil {
		return
	}
	cp := m.prog.Chapter(ch.ID)
	for k, v := range numericFacts(m.cur.sess.Lesson()) {
		// a map's entries ("traffic_share_by_dc.us") go with their map
		whole, _, _ := strings.Cut(k, ".")
		if !math.IsNaN(v) && !math.IsInf(v, 0) && !slices.Contains(ch.RunTotals, k) && !slices.Contains(ch.RunTotals, whole) {
			switch owner := ch.FactOwner(k); {
			case owner < 0:
				cp.setFact(m.stepIdx, k, v)
			case owner == m.stepIdx: // the step the fact is about
				cp.Facts[k], cp.FactSteps[k] = v, owner
			}
		}
	}
}

// next goes to the next step, from the last step to the debrief, and from
// the debrief to the next chapter.
func (m *model) next() tea.Cmd {
	ch := m.chapter()
	switch {
	case ch == nil:
		return nil
	case m.mode == modeDebrief:
		return m.gotoChapter(m.chIdx + 1)
	case m.stepIdx+1 < len(ch.Steps):
		return m.gotoStep(m.chIdx, m.stepIdx+1)
	}
	return m.showDebrief()
}

func (m *model) back() tea.Cmd {
	ch := m.chapter()
	switch {
	case ch == nil:
		return nil
	case m.mode == modeDebrief:
		return m.gotoStep(m.chIdx, len(ch.Steps)-1)
	case m.stepIdx > 0:
		return m.gotoStep(m.chIdx, m.stepIdx-1)
	}
	return nil
}

func (m *model) gotoChapter(i int) tea.Cmd {
	if i < 0 || i >= len(m.cfg.all) {
		return nil
	}
	return m.gotoStep(i, m.prog.resume(m.cfg.all[i]))
}

// showDebrief ends the chapter: its system stops, the chapter is done.
func (m *model) showDebrief() tea.Cmd {
	ch := m.chapter()
	cmd := m.leave()
	m.mode = modeDebrief
	m.showInspector = false
	m.want = 0
	cp := m.prog.Chapter(ch.ID)
	cp.Done = true
	m.debrief.set(ch, m.lesson, cp)
	if m.chIdx+1 >= len(m.cfg.all) { // the last chapter there is
		m.debrief.last, m.debrief.md = true, withoutNext(m.debrief.md, m.c.T("debrief_next_heading"))
	}
	m.header.step = m.c.T("debrief")
	return tea.Batch(cmd, m.saveCmd())
}

// onOpened takes a step that has started, or closes it when the learner
// has moved on meanwhile.
func (m *model) onOpened(msg openedMsg) tea.Cmd {
	if msg.id != m.want || m.quitting {
		if msg.ls != nil {
			return m.run.closeCmd(msg.ls)
		}
		return nil
	}
	m.opening = false
	if msg.err != nil {
		m.lessonP.note = m.c.T("start_failed") + ": " + msg.err.Error()
		return m.flash(m.c.T("start_failed"), true)
	}
	m.cur = msg.ls
	m.lessonP.note = ""
	return nil
}

// onSnapshot feeds the session's objectives and every pane.
func (m *model) onSnapshot(msg snapshotMsg) tea.Cmd {
	if m.cur == nil || msg.id != m.cur.id || m.mode != modeStep {
		return nil // from a session already closed
	}
	m.snap, m.hasSnap = msg.snap, true
	newly := m.cur.sess.Observe(msg.snap)
	ch := m.chapter()
	cp := m.prog.Chapter(ch.ID)
	step := &ch.Steps[m.stepIdx]
	v, ok := m.cur.sess.Measured()
	if ok && step.Prediction != nil {
		cp.Facts[measuredPrefix+step.Prediction.ID] = v
	}
	m.lessonP.setLive(m.metFunc(), m.allMet(), v, ok)
	for _, p := range []pane{m.header, m.topo, m.charts, m.stats, m.events} {
		p.Update(msg)
	}
	if len(newly) == 0 {
		return nil
	}
	for _, id := range newly {
		cp.Met[step.ID+"/"+id] = true
	}
	m.collectFacts()
	return m.saveCmd() // the lesson pane marks the objectives met and says where n goes
}

// metFunc tells whether an objective of the current step is met, now or
// in an earlier run.
func (m *model) metFunc() func(string) bool {
	ch, cur := m.chapter(), m.cur
	if ch == nil {
		return func(string) bool { return false }
	}
	cp := m.prog.Chapter(ch.ID)
	stepID := ch.Steps[m.stepIdx].ID
	return func(id string) bool {
		return cp.Met[stepID+"/"+id] || (cur != nil && cur.sess.Met(id))
	}
}

func (m *model) allMet() bool {
	ch := m.chapter()
	if ch == nil {
		return false
	}
	met := m.metFunc()
	objs := ch.Steps[m.stepIdx].Objectives
	for _, o := range objs {
		if !met(o.ID) {
			return false
		}
	}
	return len(objs) > 0
}

func (m *model) onPredicted(msg predictedMsg) tea.Cmd {
	ch := m.chapter()
	if ch == nil || msg.skipped {
		return nil
	}
	m.prog.Chapter(ch.ID).Predictions[msg.id] = msg.value
	return m.saveCmd()
}

// saveCmd writes the progress in a command.
func (m *model) saveCmd() tea.Cmd {
	write := m.cfg.store.saveCmd(m.prog)
	if write == nil {
		return nil
	}
	return func() tea.Msg { return savedMsg{err: write()} }
}
