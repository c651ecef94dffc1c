package lab

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
)

func plainMarkdown(src string, w int) string {
	return ansi.Strip(strings.Join(renderMarkdown(NewStyles(true), src, w), "\n"))
}

// Emphasis closes before a Korean particle, and in the middle of a word;
// underscores inside names stay as they are.
func TestMarkdownEmphasisNextToHangul(t *testing.T) {
	for src, want := range map[string]string{
		"*적중률*이 오릅니다":                "적중률이 오릅니다",
		"**캐시 적중률**은":                "캐시 적중률은",
		"*hit ratio*가 climbs":        "hit ratio가 climbs",
		"lost_while_degraded counts": "lost_while_degraded counts",
		"2 * 3 * 4":                  "2 * 3 * 4",
	} {
		if got := plainMarkdown(src, 80); got != want {
			t.Errorf("%q rendered %q, want %q", src, got, want)
		}
	}
}

// No lesson, in any language, shows a raw emphasis mark: every * in the
// text opens or closes emphasis (code spans aside).
func TestLessonsShowNoRawAsterisks(t *testing.T) {
	for _, lang := range assets.Langs() {
		ids, err := assets.LessonIDs(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			l, err := assets.LoadLesson(lang, id)
			if err != nil {
				t.Fatal(err)
			}
			texts := []string{l.Summary, l.Debrief}
			for _, st := range l.Steps {
				texts = append(texts, st.Body, "> "+st.Hint, st.Question)
				texts = append(texts, st.Choices...)
				for _, o := range st.Objectives {
					texts = append(texts, o)
				}
			}
			for _, src := range texts {
				out := plainMarkdown(withoutCode(src), 200)
				if strings.Contains(out, "*") {
					t.Errorf("%s/%s shows a raw *: %q", lang, id, firstLineWith(out, "*"))
				}
			}
		}
	}
}

// withoutCode drops `code` spans and fenced blocks, where * is literal.
func withoutCode(s string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		parts := strings.Split(line, "`")
		for i := 0; i < len(parts); i += 2 {
			b.WriteString(parts[i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
