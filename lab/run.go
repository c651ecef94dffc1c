// Package lab is scalelab's terminal UI: it opens a chapter's steps as
// running systems, draws their snapshots (topology, charts, gauges, events,
// the lesson and its objectives) and turns keys into engine actions.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"

	"scalelab/assets"
	"scalelab/chapters"
)

// Options start the lab.
type Options struct {
	// Course is the chapters in order.
	Course []*chapters.Chapter
	// Chapter is a chapter id or number; "" opens the next unfinished one.
	Chapter string
	// Lang is "en" or "ko"; "" picks it from the locale.
	Lang string
	// ConfigDir holds progress.json; "" is os.UserConfigDir()/scalelab.
	ConfigDir string
	// Out and In are the terminal; nil means stdout and stdin.
	Out io.Writer
	In  io.Reader
}

// Run runs the lab until the learner quits (q, ctrl+c) or ctx ends. Every
// session it opened is closed before it returns: no goroutine, port or
// temporary file is left behind.
func Run(ctx context.Context, opt Options) error {
	all := opt.Course
	start, step := 0, 0
	dir, dirErr := configDir(opt.ConfigDir)
	prog, progErr := newProgress(), error(nil)
	if dirErr == nil {
		prog, progErr = LoadProgress(dir)
	}
	if opt.Chapter != "" {
		ch, err := chapters.Find(all, opt.Chapter)
		if err != nil {
			return err
		}
		start = indexOf(all, ch.ID)
		step = prog.resume(all[start])
	} else if ch, s := prog.Next(all); ch != nil {
		start, step = indexOf(all, ch.ID), s
	}
	lang := opt.Lang
	if lang == "" {
		lang = assets.DetectLang(os.Getenv)
	}
	ui := assets.UI(lang)
	status := ""
	switch {
	case dirErr != nil:
		status = dirErr.Error()
	case progErr != nil:
		status = progErr.Error()
	}
	var store *progressStore
	if dirErr == nil {
		store = &progressStore{dir: dir}
	}
	r := newRunner(nil)
	m := newModel(config{
		all: all, start: start, step: step, lang: lang,
		noColor:    os.Getenv("NO_COLOR") != "",
		tr:         ui.T,
		factLabel:  func(k string) string { return assets.FactLabel(lang, k) },
		loadLesson: func(id string) (*assets.Lesson, error) { return assets.LoadLesson(lang, id) },
		progress:   prog, store: store, runner: r, status: status,
	})
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opt.Out != nil {
		opts = append(opts, tea.WithOutput(opt.Out))
	}
	if opt.In != nil {
		opts = append(opts, tea.WithInput(opt.In))
	}
	p := tea.NewProgram(m, opts...)
	r.setSend(p.Send)
	_, runErr := p.Run()
	m.stop()
	closeErr := r.closeAll()
	var saveErr error
	if write := store.saveCmd(prog); write != nil {
		saveErr = write() // after any write still in flight
	}
	if errors.Is(runErr, tea.ErrProgramKilled) && ctx.Err() != nil {
		runErr = nil // the caller cancelled: a clean stop
	}
	if errors.Is(runErr, tea.ErrInterrupted) {
		runErr = nil // ctrl+c as a signal: also a clean stop
	}
	return errors.Join(runErr, closeErr, saveErr)
}

func indexOf(all []*chapters.Chapter, id string) int {
	for i, c := range all {
		if c.ID == id {
			return i
		}
	}
	return 0
}

// configDir is where progress lives.
func configDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory, progress will not be saved: %w", err)
	}
	return filepath.Join(base, "scalelab"), nil
}
