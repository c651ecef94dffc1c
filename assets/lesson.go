package assets

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lesson is one chapter's words in one language.
type Lesson struct {
	ID      string // the chapter id, e.g. "tiers"
	Title   string
	Summary string
	Steps   []StepText
	Debrief string // markdown
}

// StepText is one step's words. Its ID, its objectives' ids and the number
// of its choices match the chapter's definition in package chapters. Body
// is markdown; every other field is plain text on one line.
type StepText struct {
	ID    string
	Title string
	Body  string // markdown
	Hint  string
	// Question is the prediction asked before the learner acts; Choices are
	// its answers in order (none when the answer is a number).
	Question string
	Choices  []string
	// Objectives maps an objective id to what the learner is asked to do.
	Objectives map[string]string
}

// Step returns the step with this id.
func (l *Lesson) Step(id string) (StepText, bool) {
	for _, s := range l.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return StepText{}, false
}

// LoadLesson reads the embedded lesson of a chapter in a language.
func LoadLesson(lang, chapterID string) (*Lesson, error) {
	if err := checkLang(lang); err != nil {
		return nil, fmt.Errorf("lesson %q: %w", chapterID, err)
	}
	if !isID(chapterID) {
		return nil, fmt.Errorf("lesson %q: not a chapter id: %w", chapterID, ErrNoLesson)
	}
	name := path.Join("lessons", lang, chapterID+".md")
	src, err := files.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s lesson for chapter %q: %w", lang, chapterID, ErrNoLesson)
	}
	if err != nil {
		return nil, fmt.Errorf("lesson %s: %w", name, err)
	}
	l, err := ParseLesson(name, src)
	if err != nil {
		return nil, err
	}
	l.ID = chapterID
	return l, nil
}

// LessonIDs lists the chapters that have a lesson in lang.
func LessonIDs(lang string) ([]string, error) { return lessonIDs(lang) }

// lessonIDs lists the chapters that have a lesson in lang.
func lessonIDs(lang string) ([]string, error) {
	ents, err := files.ReadDir(path.Join("lessons", lang))
	if err != nil {
		return nil, fmt.Errorf("lessons of %s: %w", lang, err)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".md"); ok && !e.IsDir() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ParseLesson parses a lesson file; file names it in errors, which read
// "file:line: what is wrong". The format:
//
//	# Title
//	One summary paragraph.
//
//	## step: one-box | Step title
//	Markdown body...
//	? The prediction's question
//	1. first choice
//	2. second choice
//	- [objective-id] What the learner is asked to do
//	> hint: One line of hint.
//
//	## debrief
//	Markdown.
//
// Inside a step, a `? ` line is the question and the numbered lines right
// after it (blank lines allowed between) are its choices, numbered from 1;
// `- [id] text` is an objective and `> hint: ` the hint, wherever they
// appear; every other line is the body. Numbered lists elsewhere in the
// body stay body. Lines inside ``` or ~~~ fences are always body.
func ParseLesson(file string, src []byte) (*Lesson, error) {
	p := lessonParser{file: file, l: &Lesson{ID: strings.TrimSuffix(path.Base(file), ".md")}}
	if !utf8.Valid(src) {
		return nil, perr(file, 1, "not UTF-8 text")
	}
	for i, line := range splitLines(src) {
		if err := p.line(i+1, line); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

type section int

const (
	secPreamble section = iota // before the # title
	secHead                    // title seen: summary lines
	secStep
	secDebrief
)

type lessonParser struct {
	file      string
	l         *Lesson
	sec       section
	summary   []string
	step      *StepText
	body      []string
	fence     string // the open fence marker, or ""
	fenceLine int
	choosing  bool // the lines right after a question
	debrief   bool // a debrief was seen
}

func (p *lessonParser) err(line int, format string, args ...any) error {
	return perr(p.file, line, format, args...)
}

func (p *lessonParser) line(n int, line string) error {
	trimmed := strings.TrimSpace(line)
	if p.fence != "" {
		if strings.HasPrefix(trimmed, p.fence) {
			p.fence = ""
		}
		return p.addBody(n, line)
	}
	if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
		if p.sec != secStep && p.sec != secDebrief {
			return p.err(n, "code fence outside a step or the debrief")
		}
		p.fence, p.fenceLine = trimmed[:3], n
		p.choosing = false
		return p.addBody(n, line)
	}
	switch {
	case line == "#" || strings.HasPrefix(line, "# "):
		if p.sec != secPreamble {
			return p.err(n, "a second # title")
		}
		p.l.Title = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if p.l.Title == "" {
			return p.err(n, "empty # title")
		}
		p.sec = secHead
		return nil
	case line == "##" || strings.HasPrefix(line, "## "):
		return p.heading(n, strings.TrimSpace(strings.TrimPrefix(line, "##")))
	}
	switch p.sec {
	case secPreamble:
		if trimmed != "" {
			return p.err(n, "text before the # title")
		}
		return nil
	case secHead:
		if trimmed != "" {
			p.summary = append(p.summary, trimmed)
		}
		return nil
	case secDebrief:
		return p.addBody(n, line)
	}
	return p.stepText(n, line, trimmed)
}

// heading starts a step or the debrief.
func (p *lessonParser) heading(n int, h string) error {
	if p.sec == secPreamble {
		return p.err(n, "section before the # title")
	}
	if err := p.endSection(); err != nil {
		return err
	}
	if h == "debrief" {
		if p.debrief {
			return p.err(n, "a second ## debrief")
		}
		p.debrief = true
		p.sec = secDebrief
		return nil
	}
	rest, ok := strings.CutPrefix(h, "step:")
	if !ok {
		return p.err(n, "unknown section %q: want \"## step: ID | Title\" or \"## debrief\"", h)
	}
	if p.debrief {
		return p.err(n, "step after the debrief")
	}
	id, title, ok := strings.Cut(rest, "|")
	id, title = strings.TrimSpace(id), strings.TrimSpace(title)
	if !isID(id) {
		return p.err(n, "step id %q: want lower-case letters, digits and '-'", id)
	}
	if !ok || title == "" {
		return p.err(n, "step %s has no title: want \"## step: %s | Title\"", id, id)
	}
	if _, dup := p.l.Step(id); dup {
		return p.err(n, "step %s appears twice", id)
	}
	p.sec = secStep
	p.step = &StepText{ID: id, Title: title}
	return nil
}

// stepText handles one line inside a step.
func (p *lessonParser) stepText(n int, line, trimmed string) error {
	s := p.step
	if p.choosing {
		if trimmed == "" {
			return nil
		}
		if num, text, ok := numbered(trimmed); ok {
			if want := len(s.Choices) + 1; num != want {
				return p.err(n, "choice %d: want %d", num, want)
			}
			if text == "" {
				return p.err(n, "choice %d is empty", num)
			}
			s.Choices = append(s.Choices, text)
			return nil
		}
		p.choosing = false
	}
	switch {
	case strings.HasPrefix(trimmed, "? ") || trimmed == "?":
		if s.Question != "" {
			return p.err(n, "step %s has a second question", s.ID)
		}
		s.Question = strings.TrimSpace(strings.TrimPrefix(trimmed, "?"))
		if s.Question == "" {
			return p.err(n, "empty question")
		}
		p.choosing = true
		return nil
	case strings.HasPrefix(trimmed, "- ["):
		id, text, ok := strings.Cut(strings.TrimPrefix(trimmed, "- ["), "]")
		if !ok {
			return p.err(n, "objective: want \"- [id] text\"")
		}
		text = strings.TrimSpace(text)
		if !isID(id) {
			return p.err(n, "objective id %q: want lower-case letters, digits and '-'", id)
		}
		if text == "" {
			return p.err(n, "objective %s has no text", id)
		}
		if _, dup := s.Objectives[id]; dup {
			return p.err(n, "objective %s appears twice", id)
		}
		if s.Objectives == nil {
			s.Objectives = map[string]string{}
		}
		s.Objectives[id] = text
		return nil
	case strings.HasPrefix(trimmed, "> hint:"):
		if s.Hint != "" {
			return p.err(n, "step %s has a second hint", s.ID)
		}
		s.Hint = strings.TrimSpace(strings.TrimPrefix(trimmed, "> hint:"))
		if s.Hint == "" {
			return p.err(n, "empty hint")
		}
		return nil
	}
	return p.addBody(n, line)
}

// numbered splits "12. text" into 12 and "text".
func numbered(s string) (int, string, bool) {
	num, text, ok := strings.Cut(s, ".")
	if !ok || num == "" || len(num) > 3 || (text != "" && text[0] != ' ') {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strings.ContainsAny(num, "+-") {
		return 0, "", false
	}
	return n, strings.TrimSpace(text), true
}

func (p *lessonParser) addBody(n int, line string) error {
	if p.sec != secStep && p.sec != secDebrief {
		return p.err(n, "text outside a step") // unreachable: fences are checked first
	}
	p.body = append(p.body, line)
	return nil
}

// endSection closes the current step or debrief.
func (p *lessonParser) endSection() error {
	if p.fence != "" {
		return p.err(p.fenceLine, "code fence %s is never closed", p.fence)
	}
	body := trimBlank(p.body)
	p.body, p.choosing = nil, false
	switch p.sec {
	case secStep:
		p.step.Body = body
		p.l.Steps = append(p.l.Steps, *p.step)
		p.step = nil
	case secDebrief:
		p.l.Debrief = body
	}
	return nil
}

func (p *lessonParser) finish() (*Lesson, error) {
	if p.sec == secPreamble {
		return nil, p.err(1, "no # title")
	}
	if err := p.endSection(); err != nil {
		return nil, err
	}
	p.l.Summary = strings.Join(p.summary, " ")
	return p.l, nil
}

// trimBlank joins lines, dropping blank lines at either end.
func trimBlank(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
