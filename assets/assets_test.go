package assets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const good = `# Title here
A summary
on two lines.

## step: one | First step
Intro with a list:
1. not a choice
2. still body

? Which one?
1. alpha

2. beta
3. gamma
More body after the choices.
1. a body list again
- [obj-a] Do the first thing
- plain bullet
> hint: Press x.
> a plain quote

` + "```" + `
? not a question
- [not-an] objective
## not a heading
` + "```" + `

## step: two | Second
Body two.
? A number?
- [b] Do b

## debrief
All done.
### sub
`

func TestParseLesson(t *testing.T) {
	l, err := ParseLesson("lessons/en/x.md", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := &Lesson{
		ID:      "x",
		Title:   "Title here",
		Summary: "A summary on two lines.",
		Steps: []StepText{
			{
				ID:    "one",
				Title: "First step",
				Body: "Intro with a list:\n1. not a choice\n2. still body\n\nMore body after the choices.\n1. a body list again\n" +
					"- plain bullet\n> a plain quote\n\n```\n? not a question\n- [not-an] objective\n## not a heading\n```",
				Hint:       "Press x.",
				Question:   "Which one?",
				Choices:    []string{"alpha", "beta", "gamma"},
				Objectives: map[string]string{"obj-a": "Do the first thing"},
			},
			{
				ID: "two", Title: "Second", Body: "Body two.", Question: "A number?",
				Objectives: map[string]string{"b": "Do b"},
			},
		},
		Debrief: "All done.\n### sub",
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("got  %#v\nwant %#v", l, want)
	}
	if s, ok := l.Step("two"); !ok || s.Title != "Second" {
		t.Errorf("Step(two) = %v, %v", s, ok)
	}
	if _, ok := l.Step("three"); ok {
		t.Error("Step(three) found")
	}

	crlf := strings.ReplaceAll(good, "\n", "\r\n")
	l2, err := ParseLesson("lessons/en/x.md", []byte(crlf))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l2, want) {
		t.Errorf("CRLF: got %#v", l2)
	}
}

func TestParseLessonErrors(t *testing.T) {
	const f = "lessons/ko/c.md"
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", f + ":1: no # title"},
		{"only blank", "\n\n", f + ":1: no # title"},
		{"text first", "hello\n# T", f + ":1: text before the # title"},
		{"section first", "\n## debrief\n", f + ":2: section before the # title"},
		{"empty title", "#\n", f + ":1: empty # title"},
		{"two titles", "# A\n# B\n", f + ":2: a second # title"},
		{"unknown section", "# A\n## steps: x | y\n", f + `:2: unknown section "steps: x | y"`},
		{"no step title", "# A\n## step: x\n", f + ":2: step x has no title"},
		{"empty step title", "# A\n## step: x |  \n", f + ":2: step x has no title"},
		{"bad step id", "# A\n## step: X Y | t\n", f + `:2: step id "X Y"`},
		{"dup step", "# A\n## step: x | t\n## step: x | u\n", f + ":3: step x appears twice"},
		{"two debriefs", "# A\n## debrief\n## debrief\n", f + ":3: a second ## debrief"},
		{"step after debrief", "# A\n## debrief\n## step: x | t\n", f + ":3: step after the debrief"},
		{"two questions", "# A\n## step: x | t\n? a\nb\n? c\n", f + ":5: step x has a second question"},
		{"empty question", "# A\n## step: x | t\n?\n", f + ":3: empty question"},
		{"choice order", "# A\n## step: x | t\n? q\n1. a\n3. c\n", f + ":5: choice 3: want 2"},
		{"choice zero", "# A\n## step: x | t\n? q\n0. a\n", f + ":4: choice 0: want 1"},
		{"empty choice", "# A\n## step: x | t\n? q\n1.\n", f + ":4: choice 1 is empty"},
		{"objective no bracket", "# A\n## step: x | t\n- [abc text\n", f + ":3: objective: want"},
		{"objective bad id", "# A\n## step: x | t\n- [ ] task\n", f + `:3: objective id " "`},
		{"objective no text", "# A\n## step: x | t\n- [a]\n", f + ":3: objective a has no text"},
		{"objective twice", "# A\n## step: x | t\n- [a] one\n- [a] two\n", f + ":4: objective a appears twice"},
		{"two hints", "# A\n## step: x | t\n> hint: a\n> hint: b\n", f + ":4: step x has a second hint"},
		{"empty hint", "# A\n## step: x | t\n> hint:\n", f + ":3: empty hint"},
		{"fence in summary", "# A\n```\n", f + ":2: code fence outside a step"},
		{"unclosed fence", "# A\n## step: x | t\nbody\n```go\ncode\n", f + ":4: code fence ``` is never closed"},
		{"unclosed fence before section", "# A\n## step: x | t\n~~~\n## debrief\n", f + ":3: code fence ~~~ is never closed"},
		{"not utf-8", "# A\xff\n", f + ":1: not UTF-8 text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLesson(f, []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != f || pe.Line < 1 {
				t.Errorf("error %#v is not a *ParseError with a file and line", err)
			}
		})
	}
}

func TestLoadLessonErrors(t *testing.T) {
	_, err := LoadLesson("fr", "tiers")
	if !errors.Is(err, ErrUnknownLang) || !strings.Contains(err.Error(), `"fr"`) {
		t.Errorf("LoadLesson(fr) = %v, want ErrUnknownLang naming fr", err)
	}
	for _, id := range []string{"nope", "../en/tiers", "", "Tiers"} {
		if _, err := LoadLesson("en", id); !errors.Is(err, ErrNoLesson) {
			t.Errorf("LoadLesson(en, %q) = %v, want ErrNoLesson", id, err)
		}
	}
}

// The checks that need the chapter definitions (step, objective and choice
// ids) are in chapters/text_test.go; these check what the files promise
// on their own: both languages say the same things, at a sensible length.
func TestEmbeddedLessonText(t *testing.T) {
	en, err := lessonIDs("en")
	if err != nil {
		t.Fatal(err)
	}
	if len(en) == 0 {
		t.Fatal("no English lessons")
	}
	for _, lang := range Langs() {
		ids, err := lessonIDs(lang)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, en) {
			t.Errorf("%s lessons %v, en has %v", lang, ids, en)
		}
	}
	terms := map[string][]string{
		"tiers":        {"웹 계층", "데이터 계층", "관계형 데이터베이스", "비정규화", "조인", "직렬화"},
		"scaling":      {"수직적 규모 확장", "수평적 규모 확장", "단일 장애 지점", "SPOF"},
		"loadbalancer": {"로드밸런서", "사설 IP 주소", "공개 IP 주소", "대상 그룹", "헬스 체크"},
	}
	for _, id := range en {
		ref, err := LoadLesson("en", id)
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range Langs() {
			l, err := LoadLesson(lang, id)
			if err != nil {
				t.Fatal(err)
			}
			where := lang + "/" + id
			if l.ID != id || l.Title == "" || l.Summary == "" || l.Debrief == "" {
				t.Errorf("%s: id %q, title %q, summary %q, debrief %d bytes", where, l.ID, l.Title, l.Summary, len(l.Debrief))
			}
			if len(l.Steps) != len(ref.Steps) {
				t.Errorf("%s: %d steps, en has %d", where, len(l.Steps), len(ref.Steps))
				continue
			}
			for i, s := range l.Steps {
				r := ref.Steps[i]
				w := where + "/" + s.ID
				if s.ID != r.ID {
					t.Errorf("%s: step %d is %s, en has %s", w, i+1, s.ID, r.ID)
				}
				if s.Title == "" || s.Hint == "" {
					t.Errorf("%s: title %q, hint %q", w, s.Title, s.Hint)
				}
				plain := append([]string{s.Title, s.Hint, s.Question}, s.Choices...)
				for _, o := range s.Objectives {
					plain = append(plain, o)
				}
				for _, p := range plain {
					if strings.ContainsAny(p, "`*_") {
						t.Errorf("%s: %q has markdown in a plain-text field", w, p)
					}
				}
				if (s.Question == "") != (r.Question == "") || len(s.Choices) != len(r.Choices) {
					t.Errorf("%s: question %q with %d choices; en %q with %d", w, s.Question, len(s.Choices), r.Question, len(r.Choices))
				}
				if !slices.Equal(sortedKeys(s.Objectives), sortedKeys(r.Objectives)) {
					t.Errorf("%s: objectives %v, en has %v", w, sortedKeys(s.Objectives), sortedKeys(r.Objectives))
				}
				if lang == "en" {
					if n := len(strings.Fields(s.Body)); n < 80 || n > 180 {
						t.Errorf("%s: body has %d words, want 80–180", w, n)
					}
				} else if n, rn := utf8.RuneCountInString(s.Body), utf8.RuneCountInString(r.Body); n < rn/3 || n > rn*3/2 {
					t.Errorf("%s: body has %d characters, en has %d", w, n, rn)
				}
			}
			if lang == "ko" {
				all := l.Title + l.Summary + l.Debrief
				for _, s := range l.Steps {
					all += s.Title + s.Body + s.Question + s.Hint
				}
				for _, term := range terms[id] {
					if !strings.Contains(all, term) {
						t.Errorf("%s: never says %q", where, term)
					}
				}
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestParseTable(t *testing.T) {
	m, order, err := ParseTable("t.txt", []byte("# c\n\na = one\n  b.c-d_e =  two = 2 \r\nnl = x\\ny\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "one", "b.c-d_e": "two = 2", "nl": "x\ny"}
	if !reflect.DeepEqual(m, want) || !slices.Equal(order, []string{"a", "b.c-d_e", "nl"}) {
		t.Errorf("got %q %q", m, order)
	}
	for _, tc := range []struct{ src, want string }{
		{"a = 1\nno equals\n", "t.txt:2: want \"key = text\""},
		{"A = 1\n", `t.txt:1: key "A"`},
		{"a..b = 1\n", `t.txt:1: key "a..b"`},
		{" = 1\n", `t.txt:1: key ""`},
		{"a =\n", "t.txt:1: key a has no text"},
		{"a = 1\n\na = 2\n", "t.txt:3: key a appears twice"},
	} {
		_, _, err := ParseTable("t.txt", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseTable(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]`)

// checkTables checks that a table parses in every language with the same
// keys and the same fmt verbs.
func checkTables(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	all := map[string]map[string]string{}
	var enKeys []string
	for _, lang := range Langs() {
		name := dir + "/" + lang + ".txt"
		src, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, order, err := ParseTable(name, src)
		if err != nil {
			t.Fatal(err)
		}
		all[lang] = m
		slices.Sort(order)
		if lang == "en" {
			enKeys = order
		} else if !slices.Equal(order, enKeys) {
			t.Errorf("%s keys differ from en: only en %v, only %s %v", name, minus(enKeys, order), lang, minus(order, enKeys))
		}
	}
	for _, lang := range Langs() {
		for k, v := range all[lang] {
			if why := argsDiffer(all["en"][k], v); why != "" {
				t.Errorf("%s/%s.txt %s: %s", dir, lang, k, why)
			}
		}
	}
	return all
}

// argsDiffer tells how a translation tr takes other fmt arguments than
// the English en, "" when it takes the same. A translation that reorders
// them with %[n]d is read as a format; other texts (a label may hold "80%
// (s)", which is no format) must have the same verbs in the same order.
func argsDiffer(en, tr string) string {
	if strings.Contains(en, "%[") || strings.Contains(tr, "%[") {
		return sameArgs(en, tr)
	}
	if got, want := verbRE.FindAllString(tr, -1), verbRE.FindAllString(en, -1); !slices.Equal(got, want) {
		return fmt.Sprintf("verbs %q, en has %q", got, want)
	}
	return ""
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestUIText(t *testing.T) {
	checkTables(t, "ui")
	// the TUI lists the keys it uses; every one must be written in every language
	src, err := os.ReadFile(filepath.Join("..", "lab", "ui_keys.txt"))
	if errors.Is(err, os.ErrNotExist) {
		t.Log("no lab/ui_keys.txt yet")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Langs() {
		m := table("ui", lang)
		for _, line := range strings.Split(string(src), "\n") {
			k, _, _ := strings.Cut(line, "=") // lines are `key` or `key = English text`
			k = strings.TrimSpace(k)
			if k == "" || strings.HasPrefix(k, "#") {
				continue
			}
			if _, ok := m[k]; !ok {
				t.Errorf("ui/%s.txt has no %q (lab/ui_keys.txt)", lang, k)
			}
		}
	}
}

func TestUI(t *testing.T) {
	en, ko := UI("en"), UI("ko")
	if en.T("throughput") != "throughput" || ko.T("throughput") != "처리량" {
		t.Errorf("throughput: en %q, ko %q", en.T("throughput"), ko.T("throughput"))
	}
	if got := ko.T("no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
	if UI("fr").Lang() != "en" || UI("fr").T("paused") != "paused" {
		t.Error("unknown language should get English")
	}
	if !ko.Has("throughput") || ko.Has("no.such.key") || (Strings{}).Has("x") {
		t.Error("Has")
	}
	if got := ko.KeyHelp("db size"); got != "DB 크기" {
		t.Errorf("KeyHelp(db size) = %q", got)
	}
	if got := ko.KeyHelp("no such key"); got != "no such key" {
		t.Errorf("KeyHelp(no such key) = %q", got)
	}
	if got := (Strings{}).T("x"); got != "x" {
		t.Errorf("zero Strings T = %q", got)
	}
	// a key missing in Korean falls back to English
	s := Strings{lang: "ko", m: map[string]string{}, en: map[string]string{"a": "A"}}
	if s.T("a") != "A" {
		t.Error("no English fallback")
	}
	for _, k := range []string{"up", "down", "restarting", "saturated", "draining", "too_small", "p50", "p99", "help.kill", "help.quit"} {
		for _, lang := range Langs() {
			if _, ok := table("ui", lang)[k]; !ok {
				t.Errorf("ui/%s.txt has no %s", lang, k)
			}
		}
	}
}

func TestFactLabelText(t *testing.T) {
	checkTables(t, "facts")
	if got := FactLabel("ko", "outage_s"); got != "장애 시간 (초)" {
		t.Errorf("ko outage_s = %q", got)
	}
	if got := FactLabel("en", "outage_s"); got != "outage length (s)" {
		t.Errorf("en outage_s = %q", got)
	}
	if got := FactLabel("fr", "outage_s"); got != "outage length (s)" {
		t.Errorf("fr outage_s = %q", got)
	}
	if got := FactLabel("ko", "unknown_fact"); got != "unknown_fact" {
		t.Errorf("unknown = %q", got)
	}
}

func TestGlossaryText(t *testing.T) {
	var enIDs []string
	for _, lang := range Langs() {
		name := "glossary/" + lang + ".md"
		src, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		terms, ids, err := ParseGlossary(name, src)
		if err != nil {
			t.Fatal(err)
		}
		if len(terms) < 20 {
			t.Errorf("%s: %d terms, want at least 20", name, len(terms))
		}
		for _, tm := range terms {
			if tm.Term == "" || tm.Definition == "" {
				t.Errorf("%s: %+v", name, tm)
			}
		}
		if lang == "en" {
			enIDs = ids
		} else if !slices.Equal(ids, enIDs) {
			t.Errorf("%s ids %v, en %v", name, ids, enIDs)
		}
		if got := Glossary(lang); !reflect.DeepEqual(got, terms) {
			t.Errorf("Glossary(%s) differs from the file", lang)
		}
	}
	if g := Glossary("fr"); len(g) == 0 || g[0] != Glossary("en")[0] {
		t.Error("Glossary(fr) should be English")
	}
	ko := Glossary("ko")
	found := false
	for _, tm := range ko {
		found = found || tm.Term == "단일 장애 지점(SPOF)"
	}
	if !found {
		t.Error("Korean glossary has no 단일 장애 지점(SPOF)")
	}

	for _, tc := range []struct{ src, want string }{
		{"stray\n", "g.md:1: text before the first"},
		{"## a | A\n\n## b | B\ndef\n", "g.md:1: term a has no definition"},
		{"## a | A\nd\n## a | B\nd\n", "g.md:3: term a appears twice"},
		{"## a\n", `g.md:1: want "## id | Term"`},
		{"## a | A\nd\n## b | B\n", "g.md:3: term b has no definition"},
		{"\xfe", "g.md:1: not UTF-8"},
	} {
		if _, _, err := ParseGlossary("g.md", []byte(tc.src)); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseGlossary(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestDetectLang(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "en"},
		{map[string]string{"LANG": "ko_KR.UTF-8"}, "ko"},
		{map[string]string{"LANG": "ko"}, "ko"},
		{map[string]string{"LANG": "KO_kr"}, "ko"},
		{map[string]string{"LANG": "en_US.UTF-8"}, "en"},
		{map[string]string{"LANG": "C"}, "en"},
		{map[string]string{"LANG": "k"}, "en"},
		{map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"},
		{map[string]string{"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"},
		{map[string]string{"LC_MESSAGES": "ko_KR", "LANG": "en_US"}, "ko"},
		{map[string]string{"LC_ALL": " ", "LC_MESSAGES": "en_GB", "LANG": "ko_KR"}, "en"},
		{map[string]string{"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ko_KR"}, "ko"},
	} {
		env := func(k string) string { return tc.env[k] }
		if got := DetectLang(env); got != tc.want {
			t.Errorf("DetectLang(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestLangs(t *testing.T) {
	l := Langs()
	if !slices.Equal(l, []string{"en", "ko"}) {
		t.Fatalf("Langs() = %v", l)
	}
	l[0] = "xx"
	if Langs()[0] != "en" {
		t.Error("Langs shares its slice")
	}
}

func FuzzParseLesson(f *testing.F) {
	f.Add([]byte(good))
	for _, lang := range Langs() {
		ids, _ := lessonIDs(lang)
		for _, id := range ids {
			src, _ := files.ReadFile("lessons/" + lang + "/" + id + ".md")
			f.Add(src)
		}
	}
	f.Add([]byte("# A\n## step: x | t\n? q\n1. a\n3. c\n"))
	f.Add([]byte("# A\n## step: x | t\n```\n"))
	f.Add([]byte("\r\n#\r\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		l, err := ParseLesson("f.md", src)
		lines := strings.Count(string(src), "\n") + 1
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > lines || pe.File != "f.md" {
				t.Fatalf("error %v: not a *ParseError within the file's %d lines", err, lines)
			}
			return
		}
		if l.Title == "" {
			t.Fatal("no title and no error")
		}
		seen := map[string]bool{}
		for _, s := range l.Steps {
			if seen[s.ID] || !isID(s.ID) || s.Title == "" {
				t.Fatalf("bad step %+v", s)
			}
			seen[s.ID] = true
			if len(s.Choices) > 0 && s.Question == "" {
				t.Fatalf("step %s has choices but no question", s.ID)
			}
		}
	})
}

func FuzzParseTable(f *testing.F) {
	src, _ := files.ReadFile("ui/ko.txt")
	f.Add(src)
	f.Add([]byte("a = b\n=\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, order, err := ParseTable("f.txt", src)
		if err == nil && len(m) != len(order) {
			t.Fatalf("%d keys, %d in order", len(m), len(order))
		}
	})
}

func BenchmarkLoadLesson(b *testing.B) {
	for b.Loop() {
		if _, err := LoadLesson("ko", "loadbalancer"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUI(b *testing.B) {
	for b.Loop() {
		_ = UI("ko").T("throughput")
	}
}

func BenchmarkFactLabel(b *testing.B) {
	for b.Loop() {
		_ = FactLabel("ko", "outage_failed_pct")
	}
}

func TestStaticFiles(t *testing.T) {
	want := map[string]string{"app.css": "text/css", "app.js": "javascript", "logo.png": "image/png", "intro-001.ts": "video/mp2t"}
	got := StaticFiles()
	if len(got) != len(want) {
		t.Fatalf("%d static files, want %d", len(got), len(want))
	}
	for _, f := range got {
		w, ok := want[f.Name]
		if !ok || !strings.Contains(f.Type, w) || len(f.Body) < 1000 {
			t.Errorf("%s: type %q, %d bytes", f.Name, f.Type, len(f.Body))
		}
	}
	for _, f := range got {
		switch f.Name {
		case "logo.png":
			if string(f.Body[1:4]) != "PNG" {
				t.Error("logo.png is not a PNG")
			}
		case "intro-001.ts":
			if len(f.Body)%188 != 0 || f.Body[0] != 0x47 || f.Body[188] != 0x47 {
				t.Error("intro-001.ts is not 188-byte transport stream packets")
			}
		}
	}
}
