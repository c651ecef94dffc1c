package lab

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"scalelab/assets"
	"scalelab/chapters"
	"scalelab/engine"
)

// The engine's texts below use its keys and formats (the assets' test
// holds each language to the source's), so the lab has words for them.

// sampleEvents are events as the engine logs them, with counts, a role, a
// knob value and reordered arguments.
func sampleEvents() []engine.Event {
	l := engine.NewEventLog(engine.NewClock())
	l.Add("eject", "web-2", engine.Textf("lb.eject.checks", "health check failed %s", engine.Plural(2, "time")))
	l.Add("add", "web-4", engine.Textf("lb.joined", "joined %s's target group (%s)", "lb-1", engine.Plural(4, "target")))
	l.Add(engine.EvSet, "lb.policy", engine.Textf("knob.set", "%s", engine.KnobValue("least-conn")))
	l.Add(engine.EvSpike, "load", engine.Textf("load.spike", "%gx for %s", 5.0, 10*time.Second))
	l.Add("promote", "db-2", engine.Textf("repl.promoted", "promoted to primary at pos %d (%s missed %d heartbeats)", 42, "db-1", 3))
	l.Add("lost", "db-2", engine.Textf("repl.lost", "missing here: %s from %s", engine.Plural(3, "acknowledged write"), "db-1"))
	l.Add(engine.EvUp, "cache-1", engine.Textf("kv.up_empty", "up on %s, empty: a cache lives in memory", "127.0.0.1:6379"))
	return l.All()
}

// samplePrimary is a promoted primary whose semi-sync fell back, with
// writes lost here, and a list under a heading.
func samplePrimary() engine.NodeSnap {
	role := engine.Textf("repl.role.primary", "primary")
	return engine.NodeSnap{Name: "db-2", Role: "db", Layer: engine.LayerData, State: engine.StateUp, Badge: "primary",
		Detail: engine.Textf("repl.detail", "%s · pos %d", role, 42),
		Lines: []engine.Line{
			{Label: engine.Textf("repl.replication", "replication"), Value: role},
			{Label: engine.Textf("repl.log_position", "log position"), Value: engine.Textf("repl.log_position.value", "%d (applied %d)", 42, 41)},
			{Label: engine.Textf("repl.mode", "mode"), Value: engine.Textf("repl.mode.fallen_back", "%s (fallen back to async)", engine.KnobValue("semi-sync"))},
			{Label: engine.Textf("repl.lost_here", "lost here (acknowledged, missing)"), Value: engine.Textf("repl.writes.value", "%d: %s", 2, "u1-p7, u2-p9")},
			{Label: engine.Textf("cache.hottest", "hottest keys (ttl left · idle · hits):")},
			{Item: true, Label: engine.Textf("cache.hot_key", "%-9s %6s · %4.1fs · %.0f", "user:1", engine.Textf("cache.ttl.none", "none"), 1.5, 12.0)},
		}}
}

// textModel is the lab in lang showing the samples, db-2 selected and
// the inspector open, their panes wide enough that no line is cut or
// wrapped.
func textModel(t *testing.T, lang string, tr func(string) string) *model {
	t.Helper()
	snap := replicatedSnapshot()
	for i, n := range snap.Nodes {
		if n.Name == "db-2" {
			snap.Nodes[i] = samplePrimary()
		}
	}
	snap.Events = sampleEvents()
	snap.NEvent = len(snap.Events)
	ch := fixtureChapter()
	ch.Steps[0].Select = "db-2"
	m, _ := openStep(t, []*chapters.Chapter{ch}, 0, 0, snap)
	m.c.lang, m.c.tr = lang, tr
	m.Update(press("i"))
	screen(m)
	m.events.SetSize(200, 12)
	m.inspector.SetSize(200, 40)
	return m
}

var asciiWord = regexp.MustCompile(`[A-Za-z]{2,}`)

// englishLeft are the English words of t that its translation ko still
// holds, leaving out those of the arguments shown as they are (names,
// addresses).
func englishLeft(t engine.Text, ko string) []string {
	keep := map[string]bool{}
	var walk func(engine.Text)
	walk = func(t engine.Text) {
		for _, a := range t.Args {
			switch a := a.(type) {
			case engine.Text:
				walk(a)
			case engine.KnobValue: // said in the language too
			case string:
				for _, w := range asciiWord.FindAllString(a, -1) {
					keep[w] = true
				}
			}
		}
	}
	walk(t)
	koWords := asciiWord.FindAllString(ko, -1)
	var left []string
	for _, w := range asciiWord.FindAllString(t.String(), -1) {
		if !keep[w] && slices.Contains(koWords, w) && !slices.Contains(left, w) {
			left = append(left, w)
		}
	}
	return left
}

func hasHangul(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Hangul, r) })
}

// TestKoreanEngineText draws the event log and the inspector in Korean:
// every event detail and inspector line is said in Korean (counts, roles
// and knob values too, arguments reordered where Korean puts them
// elsewhere), with no English word of the line left but names.
func TestKoreanEngineText(t *testing.T) {
	ui := assets.UI("ko")
	m := textModel(t, "ko", ui.T)
	var missed []string
	m.c.missed, m.c.has = func(k string) { missed = append(missed, k) }, ui.Has
	events, inspector := ansi.Strip(m.events.View()), ansi.Strip(m.inspector.View())
	check := func(where string, tx engine.Text, pane string) {
		t.Helper()
		if tx.Empty() {
			return
		}
		ko := m.c.say(tx)
		if !hasHangul(ko) {
			t.Errorf("%s %s: %q has no Korean", where, tx.Key, ko)
		}
		if left := englishLeft(tx, ko); len(left) > 0 {
			t.Errorf("%s %s: %q keeps English %q (English: %q)", where, tx.Key, ko, left, tx.String())
		}
		if !strings.Contains(pane, ko) {
			t.Errorf("%s: %q is not on screen:\n%s", where, ko, pane)
		}
	}
	for _, e := range sampleEvents() {
		check("event", e.Text, events)
	}
	n := samplePrimary()
	check("detail", n.Detail, inspector)
	for _, l := range n.Lines {
		check("label", l.Label, inspector)
		check("value", l.Value, inspector)
	}
	for _, want := range []string{
		"헬스 체크 2회 실패",
		"lb-1의 대상 그룹에 들어감 (대상 4개)",
		"최소 연결",
		"10s 동안 5배",
		"위치 42에서 주 DB로 승격 (db-1 하트비트 3번 놓침)",
		"여기에 없음: db-1의 확인 응답한 쓰기 3건",
		"주 DB · 위치 42",
		"반동기 (비동기로 돌아감)",
		"  user:1",
	} {
		if !strings.Contains(events+inspector, want) {
			t.Errorf("no %q on screen:\n%s\n%s", want, events, inspector)
		}
	}
	if len(missed) > 0 {
		t.Errorf("no Korean for %q", missed)
	}
}

// In English the lab shows the engine's own words: an event's detail, and
// each line as the "label: value" it was before the texts were keyed.
func TestEnglishEngineText(t *testing.T) {
	m := textModel(t, "en", testWords(t))
	events, inspector := ansi.Strip(m.events.View()), ansi.Strip(m.inspector.View())
	for _, e := range sampleEvents() {
		if !strings.Contains(events, e.Detail) {
			t.Errorf("event %q is not on screen:\n%s", e.Detail, events)
		}
	}
	for _, want := range []string{"primary · pos 42", "semi-sync (fallen back to async)", "lost here (acknowledged, missing)", "2: u1-p7, u2-p9",
		"hottest keys (ttl left · idle · hits):", "  user:1      none ·  1.5s · 12"} {
		if !strings.Contains(inspector, want) {
			t.Errorf("%q is not on screen:\n%s", want, inspector)
		}
	}
	if got, want := samplePrimary().Lines[2].String(), "mode: semi-sync (fallen back to async)"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}

// A key the language has no text for is said in the engine's English,
// and the lab tells of the missing key.
func TestEngineTextFallsBackToEnglish(t *testing.T) {
	ui := assets.UI("ko")
	c := &common{lang: "ko", tr: ui.T, has: ui.Has}
	var missed []string
	c.missed = func(k string) { missed = append(missed, k) }
	if got := c.say(engine.Textf("no.such.text", "joined %s (%s)", "lb-1", engine.Plural(1, "target"))); got != "joined lb-1 (1 target)" {
		t.Errorf("say = %q", got)
	}
	if got := c.say(engine.Textf("lb.joined", "joined %s's target group (%s)", "lb-1", engine.Textf("nor.this", "%d target", 1))); got != "lb-1의 대상 그룹에 들어감 (1 target)" {
		t.Errorf("say = %q", got)
	}
	if !slices.Equal(missed, []string{"text.no.such.text", "text.nor.this"}) {
		t.Errorf("missed %q", missed)
	}
	if got := c.say(engine.Text{}); got != "" {
		t.Errorf("empty text says %q", got)
	}
}
