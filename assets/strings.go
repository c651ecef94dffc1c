package assets

import (
	"path"
	"strings"
)

// Strings are the TUI's words in one language. The zero value answers
// every key with the key itself.
type Strings struct {
	lang string
	m    map[string]string
	en   map[string]string
}

// UI returns the TUI's strings in lang; an unknown language gets English.
func UI(lang string) Strings {
	if !knownLang(lang) {
		lang = "en"
	}
	s := Strings{lang: lang, en: table("ui", "en")}
	s.m = s.en
	if lang != "en" {
		s.m = table("ui", lang)
	}
	return s
}

// Lang is the language of s.
func (s Strings) Lang() string { return s.lang }

// T returns the text for key: in s's language, else in English, else the
// key itself. Some texts are fmt formats (e.g. too_small takes four %d).
func (s Strings) T(key string) string {
	if v, ok := s.m[key]; ok {
		return v
	}
	if v, ok := s.en[key]; ok {
		return v
	}
	return key
}

// KeyHelp labels a chapter key by its English help text (chapters.Key.Help,
// e.g. "db size"): the text of "help.db_size", else help itself.
func (s Strings) KeyHelp(help string) string {
	key := "help." + strings.ReplaceAll(strings.TrimSpace(help), " ", "_")
	if v := s.T(key); v != key {
		return v
	}
	return help
}

// Has reports whether key has text in s's own language (no fallback).
func (s Strings) Has(key string) bool {
	_, ok := s.m[key]
	return ok
}

// FactLabel returns the label of a lesson fact key (e.g. "outage_failed_pct")
// in lang, else in English, else the key itself.
func FactLabel(lang, key string) string {
	if knownLang(lang) {
		if v, ok := table("facts", lang)[key]; ok {
			return v
		}
	}
	if v, ok := table("facts", "en")[key]; ok {
		return v
	}
	return key
}

// table reads an embedded string table. The files are checked by the tests,
// so a broken line is skipped here rather than failing the program.
func table(dir, lang string) map[string]string {
	name := path.Join(dir, lang+".txt")
	src, err := files.ReadFile(name)
	if err != nil {
		return nil
	}
	m, _, _ := ParseTable(name, src)
	return m
}

// ParseTable parses `key = text` lines. Blank lines and lines starting with
// '#' are skipped. Keys are lower-case ids (letters, digits, '_', '-', '.');
// the text is trimmed and `\n` in it becomes a newline. It returns the keys
// in file order too. On a bad line it returns what it parsed so far and an
// error naming file:line.
func ParseTable(file string, src []byte) (map[string]string, []string, error) {
	m := map[string]string{}
	var order []string
	for i, line := range splitLines(src) {
		n := i + 1
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, text, ok := strings.Cut(t, "=")
		key, text = strings.TrimSpace(key), strings.TrimSpace(text)
		switch {
		case !ok:
			return m, order, perr(file, n, "want \"key = text\"")
		case !isTableKey(key):
			return m, order, perr(file, n, "key %q: want lower-case letters, digits, '_', '-' and '.'", key)
		case text == "":
			return m, order, perr(file, n, "key %s has no text", key)
		}
		if _, dup := m[key]; dup {
			return m, order, perr(file, n, "key %s appears twice", key)
		}
		m[key] = strings.ReplaceAll(text, `\n`, "\n")
		order = append(order, key)
	}
	return m, order, nil
}

func isTableKey(k string) bool {
	for _, part := range strings.Split(k, ".") {
		if !isID(part) {
			return false
		}
	}
	return true
}
