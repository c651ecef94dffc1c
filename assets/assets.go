// Package assets holds scalelab's embedded content: the lesson prose of each
// chapter in English and Korean, the TUI's strings, labels for the facts a
// chapter measures, and a glossary. Everything is read from files embedded
// in the binary; nothing here changes after the program starts.
//
// Lesson files (lessons/LANG/CHAPTER.md) are markdown with a few line
// directives; see ParseLesson. String tables (ui/LANG.txt, facts/LANG.txt)
// are `key = text` lines; see ParseTable. The glossary (glossary/LANG.md) is
// a list of `## id | Term` sections; see ParseGlossary.
package assets

import (
	"embed"
	"errors"
	"fmt"
	"strings"
)

//go:embed lessons ui facts glossary
var files embed.FS

// ErrUnknownLang is returned for a language scalelab has no text for.
var ErrUnknownLang = errors.New("unknown language")

// ErrNoLesson is returned by LoadLesson for a chapter with no lesson file.
var ErrNoLesson = errors.New("no lesson")

// Langs returns the languages every text is written in, English first.
func Langs() []string { return []string{"en", "ko"} }

func knownLang(lang string) bool {
	for _, l := range Langs() {
		if l == lang {
			return true
		}
	}
	return false
}

func checkLang(lang string) error {
	if knownLang(lang) {
		return nil
	}
	return fmt.Errorf("language %q: have %s: %w", lang, strings.Join(Langs(), ", "), ErrUnknownLang)
}

// DetectLang picks the language from the locale variables the way POSIX
// does: the first of LC_ALL, LC_MESSAGES and LANG that is set decides. A
// locale starting with "ko" (ko, ko_KR.UTF-8) is Korean; anything else,
// including nothing set, is English. env is usually os.Getenv.
func DetectLang(env func(string) string) string {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := strings.TrimSpace(env(name))
		if v == "" {
			continue
		}
		if len(v) >= 2 && strings.EqualFold(v[:2], "ko") {
			return "ko"
		}
		return "en"
	}
	return "en"
}

// ParseError is a mistake in an embedded text file, at a line.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

func perr(file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// splitLines splits text into lines without their "\n" or "\r\n".
func splitLines(src []byte) []string {
	s := string(src)
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// isID reports whether s is a lower-case id: letters, digits, '-' and '_',
// starting with a letter or digit.
func isID(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}
