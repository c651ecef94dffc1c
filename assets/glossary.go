package assets

import (
	"path"
	"strings"
	"unicode/utf8"
)

// Term is one glossary entry.
type Term struct {
	Term       string
	Definition string
}

// Glossary returns the glossary in lang, in the order it is written (terms
// in the same order in every language); an unknown language gets English.
func Glossary(lang string) []Term {
	if !knownLang(lang) {
		lang = "en"
	}
	name := path.Join("glossary", lang+".md")
	src, err := files.ReadFile(name)
	if err != nil {
		return nil
	}
	terms, _, _ := ParseGlossary(name, src)
	return terms
}

// ParseGlossary parses a glossary file: sections headed `## id | Term`,
// each followed by its definition (lines joined with spaces). Lines before
// the first section are ignored when they are blank or a `# ` heading. It
// returns the terms and their ids in order; on error, what it parsed so far
// and an error naming file:line.
func ParseGlossary(file string, src []byte) ([]Term, []string, error) {
	var (
		terms []Term
		ids   []string
		def   []string
		start int
	)
	if !utf8.Valid(src) {
		return nil, nil, perr(file, 1, "not UTF-8 text")
	}
	end := func() error {
		if len(terms) == 0 {
			return nil
		}
		if len(def) == 0 {
			return perr(file, start, "term %s has no definition", ids[len(ids)-1])
		}
		terms[len(terms)-1].Definition = strings.Join(def, " ")
		def = nil
		return nil
	}
	seen := map[string]bool{}
	for i, line := range splitLines(src) {
		n := i + 1
		t := strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(t, "## "); ok {
			if err := end(); err != nil {
				return terms[:len(terms)-1], ids[:len(ids)-1], err
			}
			id, term, ok := strings.Cut(h, "|")
			id, term = strings.TrimSpace(id), strings.TrimSpace(term)
			if !ok || !isID(id) || term == "" {
				return terms, ids, perr(file, n, "want \"## id | Term\"")
			}
			if seen[id] {
				return terms, ids, perr(file, n, "term %s appears twice", id)
			}
			seen[id] = true
			terms, ids, start = append(terms, Term{Term: term}), append(ids, id), n
			continue
		}
		switch {
		case t == "":
		case len(terms) > 0:
			def = append(def, t)
		case strings.HasPrefix(t, "# "):
		default:
			return terms, ids, perr(file, n, "text before the first \"## id | Term\"")
		}
	}
	if err := end(); err != nil {
		return terms[:len(terms)-1], ids[:len(ids)-1], err
	}
	return terms, ids, nil
}
