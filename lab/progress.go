package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"scalelab/chapters"
)

// ProgressFile is the name of the progress file in the config directory.
const ProgressFile = "progress.json"

// ErrCorruptProgress is wrapped by LoadProgress's error when the progress
// file could not be read as progress and was set aside.
var ErrCorruptProgress = errors.New("corrupt progress file")

// Progress is what the learner has done, kept between runs.
type Progress struct {
	Chapters map[string]*ChapterProgress `json:"chapters"`
}

// ChapterProgress is one chapter's progress. Met keys are
// "step-id/objective-id"; Predictions are keyed by prediction id (a choice
// is stored as its index, from 0, like chapters.Prediction.Correct); Facts are the chapter's numeric lesson
// facts, plus "measured:<prediction id>" for what each prediction measured;
// FactSteps says which step (from 0) measured each fact.
type ChapterProgress struct {
	Step        int                `json:"step"`
	Done        bool               `json:"done"`
	Met         map[string]bool    `json:"met"`
	Predictions map[string]float64 `json:"predictions"`
	Facts       map[string]float64 `json:"facts"`
	FactSteps   map[string]int     `json:"fact_steps,omitempty"`
}

// setFact keeps a fact a step measured. The earliest step that measures a
// fact owns it: a later step that happens to measure the same thing (the
// partition step's own "first failover") does not overwrite the figure of
// the step that is about it; the owner playing again does.
func (cp *ChapterProgress) setFact(step int, key string, v float64) {
	if owner, ok := cp.FactSteps[key]; ok && owner < step {
		return
	}
	cp.Facts[key] = v
	cp.FactSteps[key] = step
}

// measuredPrefix marks the facts that hold a prediction's measured value.
const measuredPrefix = "measured:"

func newProgress() *Progress { return &Progress{Chapters: map[string]*ChapterProgress{}} }

// Chapter returns a chapter's progress, made if there is none.
func (p *Progress) Chapter(id string) *ChapterProgress {
	if p.Chapters == nil {
		p.Chapters = map[string]*ChapterProgress{}
	}
	cp := p.Chapters[id]
	if cp == nil {
		cp = &ChapterProgress{}
		p.Chapters[id] = cp
	}
	cp.fill()
	return cp
}

func (cp *ChapterProgress) fill() {
	if cp.Met == nil {
		cp.Met = map[string]bool{}
	}
	if cp.Predictions == nil {
		cp.Predictions = map[string]float64{}
	}
	if cp.Facts == nil {
		cp.Facts = map[string]float64{}
	}
	if cp.FactSteps == nil {
		cp.FactSteps = map[string]int{}
	}
}

// setAside renames a corrupt file to path.corrupt-<unix time>, with -2,
// -3… when that name is taken: a second corruption in the same second
// keeps both files.
func setAside(path string) (string, error) {
	base := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	for n := 1; ; n++ {
		aside := base
		if n > 1 {
			aside = fmt.Sprintf("%s-%d", base, n)
		}
		// a hard link fails when the name exists, where a rename would
		// replace the older file
		if err := os.Link(path, aside); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", err
		}
		return aside, os.Remove(path)
	}
}

// LoadProgress reads the progress in dir. A missing file gives empty
// progress. A file that is not progress is renamed to
// progress.json.corrupt-<unix time> and an error saying so is returned
// together with empty, usable progress.
func LoadProgress(dir string) (*Progress, error) {
	path := filepath.Join(dir, ProgressFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newProgress(), nil
	}
	if err != nil {
		return newProgress(), fmt.Errorf("progress: %w", err)
	}
	p := newProgress()
	if err := json.Unmarshal(data, p); err != nil {
		aside, rerr := setAside(path)
		if rerr != nil {
			return newProgress(), fmt.Errorf("progress file %s is not valid (%v) and could not be set aside: %w", path, err, errors.Join(ErrCorruptProgress, rerr))
		}
		return newProgress(), fmt.Errorf("progress file %s was not valid (%v); set it aside as %s and started afresh: %w", path, err, aside, ErrCorruptProgress)
	}
	if p.Chapters == nil {
		p.Chapters = map[string]*ChapterProgress{}
	}
	for id, cp := range p.Chapters {
		if cp == nil {
			delete(p.Chapters, id)
			continue
		}
		cp.fill()
	}
	return p, nil
}

// Save writes the progress to dir atomically (a temp file renamed over the
// old one), making dir if needed.
func (p *Progress) Save(dir string) error {
	data, err := p.marshal()
	if err != nil {
		return err
	}
	return writeAtomic(dir, data)
}

func (p *Progress) marshal() ([]byte, error) {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	return append(data, '\n'), nil
}

func writeAtomic(dir string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	f, err := os.CreateTemp(dir, ProgressFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("progress: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ProgressFile)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("progress: %w", err)
	}
	return nil
}

// Next returns the first chapter not done and the step to resume it at.
// When every chapter is done it returns the last chapter at its first step;
// with no chapters, nil.
func (p *Progress) Next(all []*chapters.Chapter) (chapter *chapters.Chapter, step int) {
	for _, ch := range all {
		cp := p.Chapters[ch.ID]
		if cp == nil {
			return ch, 0
		}
		if !cp.Done {
			return ch, clampStep(ch, cp.Step)
		}
	}
	if len(all) == 0 {
		return nil, 0
	}
	return all[len(all)-1], 0
}

// resume is the step to open a chapter at: where the learner left it, or
// the first step when it is done or new.
func (p *Progress) resume(ch *chapters.Chapter) int {
	cp := p.Chapters[ch.ID]
	if cp == nil || cp.Done {
		return 0
	}
	return clampStep(ch, cp.Step)
}

func clampStep(ch *chapters.Chapter, step int) int {
	if step < 0 || len(ch.Steps) == 0 {
		return 0
	}
	if step >= len(ch.Steps) {
		return len(ch.Steps) - 1
	}
	return step
}

// numericFacts keeps the numbers of a lesson's facts, flattening small maps
// of numbers as "key.sub".
func numericFacts(facts map[string]any) map[string]float64 {
	out := map[string]float64{}
	for k, v := range facts {
		if strings.HasPrefix(k, measuredPrefix) {
			continue
		}
		if f, ok := toFloat(v); ok {
			out[k] = f
			continue
		}
		switch m := v.(type) {
		case map[string]float64:
			for sk, sv := range m {
				out[k+"."+sk] = sv
			}
		case map[string]any:
			for sk, sv := range m {
				if f, ok := toFloat(sv); ok {
					out[k+"."+sk] = f
				}
			}
		case map[string]int:
			for sk, sv := range m {
				out[k+"."+sk] = float64(sv)
			}
		case map[string]int64:
			for sk, sv := range m {
				out[k+"."+sk] = float64(sv)
			}
		}
	}
	return out
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case time.Duration:
		return float64(x) / float64(time.Millisecond), true
	}
	return 0, false
}

// progressStore writes progress from commands; a write never overtakes a
// newer one.
type progressStore struct {
	dir  string
	mu   sync.Mutex
	seq  int // last sequence handed out (root goroutine only)
	done int // last sequence written
}

// saveCmd marshals p now and returns a command that writes it.
func (s *progressStore) saveCmd(p *Progress) func() error {
	if s == nil || s.dir == "" {
		return nil
	}
	data, err := p.marshal()
	if err != nil {
		return func() error { return err }
	}
	s.seq++
	seq := s.seq
	return func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if seq < s.done {
			return nil
		}
		s.done = seq
		return writeAtomic(s.dir, data)
	}
}
