package engine_test

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"scalelab/engine"
	"strconv"
	"strings"
	"testing"
	"time"
)

var ctKnownKinds = map[engine.Kind]bool{
	engine.ActKill: true, engine.ActRestart: true, engine.ActLatency: true, engine.ActRate: true, engine.ActSpike: true, engine.ActSet: true,
	engine.ActAdd: true, engine.ActRemove: true, engine.ActDrain: true, engine.ActPause: true, engine.ActResume: true, engine.ActSpeed: true,
	engine.ActCut: true, engine.ActHeal: true,
}

// ctComponentKind is what a component's action kind looks like.
var ctComponentKind = regexp.MustCompile(`^[a-z](?:[a-z-]*[a-z])?$`)

// ctGoodLines are one-line scripts and the action each must parse to.
var ctGoodLines = []struct {
	src string
	at  time.Duration
	act engine.Action
}{
	{"5s kill web-1", 5 * time.Second, engine.Action{Kind: engine.ActKill, Target: "web-1"}},
	{"5s kill @primary", 5 * time.Second, engine.Action{Kind: engine.ActKill, Target: "@primary"}},
	{"5s KILL @random-web", 5 * time.Second, engine.Action{Kind: engine.ActKill, Target: "@random-web"}},
	{"1m30s restart db-1", 90 * time.Second, engine.Action{Kind: engine.ActRestart, Target: "db-1"}},
	{"0 remove web_2", 0, engine.Action{Kind: engine.ActRemove, Target: "web_2"}},
	{"3s drain web-2", 3 * time.Second, engine.Action{Kind: engine.ActDrain, Target: "web-2"}},
	{"4s partition db-1", 4 * time.Second, engine.Action{Kind: engine.ActCut, Target: "db-1"}},
	{"6s heal @db", 6 * time.Second, engine.Action{Kind: engine.ActHeal, Target: "@db"}},
	{"8s latency web-2 200ms", 8 * time.Second, engine.Action{Kind: engine.ActLatency, Target: "web-2", Dur: 200 * time.Millisecond}},
	{"8s latency lb-1>web-1 50ms", 8 * time.Second, engine.Action{Kind: engine.ActLatency, Target: "lb-1>web-1", Dur: 50 * time.Millisecond}},
	{"9s latency web-2 0", 9 * time.Second, engine.Action{Kind: engine.ActLatency, Target: "web-2"}},
	{"9s latency @web 1m", 9 * time.Second, engine.Action{Kind: engine.ActLatency, Target: "@web", Dur: time.Minute}},
	{"10s rate 800", 10 * time.Second, engine.Action{Kind: engine.ActRate, Value: 800}},
	{"10s rate 0", 10 * time.Second, engine.Action{Kind: engine.ActRate}},
	{"10s rate 50000", 10 * time.Second, engine.Action{Kind: engine.ActRate, Value: engine.MaxRate}},
	{"15s spike 5x 10s", 15 * time.Second, engine.Action{Kind: engine.ActSpike, Value: 5, Dur: 10 * time.Second}},
	{"15s spike 2.5X 10m", 15 * time.Second, engine.Action{Kind: engine.ActSpike, Value: 2.5, Dur: 10 * time.Minute}},
	{"15s spike 20 1s", 15 * time.Second, engine.Action{Kind: engine.ActSpike, Value: 20, Dur: time.Second}},
	{"20s set lb.policy least-conn", 20 * time.Second, engine.Action{Kind: engine.ActSet, Key: "lb.policy", Str: "least-conn"}},
	{"2s add web", 2 * time.Second, engine.Action{Kind: engine.ActAdd, Target: "web"}},
	{"2s add @web", 2 * time.Second, engine.Action{Kind: engine.ActAdd, Target: "web"}},
	{"2s add cache", 2 * time.Second, engine.Action{Kind: engine.ActAdd, Target: "cache"}},
	// a component's own actions: at most a target, checked by the system
	{"40s deploy", 40 * time.Second, engine.Action{Kind: "deploy"}},
	{"41s PURGE", 41 * time.Second, engine.Action{Kind: "purge"}},
	{"42s deploy origin", 42 * time.Second, engine.Action{Kind: "deploy", Target: "origin"}},
	{"43s fail-over db-1", 43 * time.Second, engine.Action{Kind: "fail-over", Target: "db-1"}},
	{"30s pause", 30 * time.Second, engine.Action{Kind: engine.ActPause}},
	{"31s resume", 31 * time.Second, engine.Action{Kind: engine.ActResume}},
	{"32s speed 2x", 32 * time.Second, engine.Action{Kind: engine.ActSpeed, Value: 2}},
	{"33s speed 0.25", 33 * time.Second, engine.Action{Kind: engine.ActSpeed, Value: 0.25}},
	{"34s speed 4X", 34 * time.Second, engine.Action{Kind: engine.ActSpeed, Value: 4}},
	{"500ms kill web-1 # crash it", 500 * time.Millisecond, engine.Action{Kind: engine.ActKill, Target: "web-1"}},
	{"  \t5s   kill   web-1  \r", 5 * time.Second, engine.Action{Kind: engine.ActKill, Target: "web-1"}},
}

// ctBadLines are scripts whose error is on line `line`, with a message
// naming the problem (every `want` substring must appear).
var ctBadLines = []struct {
	name string
	src  string
	line int
	want []string
}{
	{"bad time", "five kill web-1", 1, []string{`"five" is not a time`}},
	{"negative time", "-5s kill web-1", 1, []string{"is not a time"}},
	{"time without unit", "5 kill web-1", 1, []string{"is not a time"}},
	{"missing action", "5s", 1, []string{"missing action"}},
	{"missing action after comment", "5s # kill web-1", 1, []string{"missing action"}},
	{"not an action", "5s expl0de web-1", 1, []string{"unknown action", "expl0de"}},
	{"not an action either", "5s -explode web-1", 1, []string{"unknown action", "-explode"}},
	{"component action with two targets", "5s deploy origin cdn", 1, []string{"deploy takes at most a target"}},
	{"component action with a bad target", "5s deploy web/1", 1, []string{"target", "character"}},
	{"missing target", "5s kill", 1, []string{"kill takes a target"}},
	{"restart missing target", "5s restart", 1, []string{"restart takes a target"}},
	{"two targets", "5s remove web-1 web-2", 1, []string{"remove takes a target"}},
	{"drain missing target", "5s drain", 1, []string{"drain takes a target"}},
	{"partition missing target", "5s partition", 1, []string{"partition takes a node or a group"}},
	{"add an empty role", "5s add @", 1, []string{"add takes a role"}},
	{"add a role that is a selector twice", "5s add @@web", 1, []string{"add takes a role"}},
	{"add a role that is a link", "5s add web>db", 1, []string{"add takes a role"}},
	{"heal bad target", "5s heal db:1", 1, []string{"target", "character"}},
	{"bad target character", "5s kill web/1", 1, []string{"target", "web/1", "character"}},
	{"empty role", "5s kill @", 1, []string{"target", "empty"}},
	{"empty random role", "5s kill @random-", 1, []string{"target", "empty"}},
	{"latency missing duration", "5s latency web-1", 1, []string{"latency takes a target and a duration"}},
	{"latency missing target", "5s latency", 1, []string{"latency takes a target and a duration"}},
	{"latency bad duration", "5s latency web-1 fast", 1, []string{"latency", `"fast"`, "not a duration"}},
	{"latency too long", "5s latency web-1 2m", 1, []string{"latency", "not a duration between 0 and 1m"}},
	{"latency negative", "5s latency web-1 -1ms", 1, []string{"not a duration"}},
	{"latency bad link", "5s latency lb-1>web 1 5ms", 1, []string{"latency takes"}},
	{"rate not a number", "5s rate lots", 1, []string{`rate "lots"`, "not a number"}},
	{"rate too high", "5s rate 60000", 1, []string{`rate "60000"`, "from 0 to 50000"}},
	{"rate negative", "5s rate -1", 1, []string{`rate "-1"`}},
	{"rate infinite", "5s rate Inf", 1, []string{"rate"}},
	{"rate missing", "5s rate", 1, []string{"rate takes requests per second"}},
	{"spike factor too high", "5s spike 30x 10s", 1, []string{"spike factor", "30x", "between 1x and 20x"}},
	{"spike factor too low", "5s spike 0.5x 10s", 1, []string{"spike factor"}},
	{"spike factor not a number", "5s spike hugex 10s", 1, []string{"spike factor"}},
	{"spike zero length", "5s spike 5x 0s", 1, []string{"spike length", "up to 10m"}},
	{"spike too long", "5s spike 5x 11m", 1, []string{"spike length"}},
	{"spike bad length", "5s spike 5x soon", 1, []string{"spike length"}},
	{"spike missing length", "5s spike 5x", 1, []string{"spike takes a factor and a duration"}},
	{"set missing value", "5s set lb.policy", 1, []string{"set takes a knob and a value"}},
	{"add missing role", "5s add", 1, []string{"add takes a role"}},
	{"pause with argument", "5s pause now", 1, []string{"pause takes nothing"}},
	{"resume with argument", "5s resume 2x", 1, []string{"resume takes nothing"}},
	{"speed too fast", "5s speed 8x", 1, []string{`speed "8x"`, "between 0.25x and 4x"}},
	{"speed too slow", "5s speed 0.1x", 1, []string{"speed"}},
	{"speed not a number", "5s speed fast", 1, []string{"speed"}},
	{"speed missing", "5s speed", 1, []string{"speed takes a factor"}},
	{"error after comments and good lines", "# chaos\n\n5s kill web-1\n6s bog_us", 4, []string{"unknown action", "bog_us"}},
	{"first error wins", "1s kill web-1\n2s rate lots\n3s explode", 2, []string{"rate"}},
}

func TestParseScriptActions(t *testing.T) {
	for _, tc := range ctGoodLines {
		got, err := engine.ParseScript("chaos", tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if len(got) != 1 {
			t.Errorf("%q: %d actions, want 1", tc.src, len(got))
			continue
		}
		want := engine.Timed{At: tc.at, Action: tc.act, Line: 1}
		if got[0] != want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.src, got[0], want)
		}
		// String gives the action back in script form
		again, err := engine.ParseAction(strings.Fields(got[0].Action.String()))
		if err != nil || again != got[0].Action {
			t.Errorf("%q: String() = %q parses to %+v, %v", tc.src, got[0].Action.String(), again, err)
		}
	}
}

func TestParseScriptCommentsAndOrder(t *testing.T) {
	src := "# a chaos script\n" + // 1
		"\n" + // 2
		"10s rate 100   # slow down\n" + // 3
		"   \t  \n" + // 4
		"5s kill a\r\n" + // 5
		"5s kill b\n" + // 6
		"# 1s kill c\n" + // 7
		"0 pause\n" + // 8
		"5s kill c\n" + // 9
		"2s resume" // 10
	got, err := engine.ParseScript("chaos", src)
	if err != nil {
		t.Fatal(err)
	}
	type at struct {
		at   time.Duration
		line int
		act  string
	}
	want := []at{
		{0, 8, "pause"},
		{2 * time.Second, 10, "resume"},
		{5 * time.Second, 5, "kill a"},
		{5 * time.Second, 6, "kill b"},
		{5 * time.Second, 9, "kill c"},
		{10 * time.Second, 3, "rate 100"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d actions %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.At != w.at || g.Line != w.line || g.Action.String() != w.act {
			t.Errorf("action %d = {%v line %d %q}, want {%v line %d %q}", i, g.At, g.Line, g.Action, w.at, w.line, w.act)
		}
	}

	for _, src := range []string{"", "\n\n", "# only a comment", "  # indented\n\t\n"} {
		got, err := engine.ParseScript("chaos", src)
		if err != nil || len(got) != 0 {
			t.Errorf("%q: %v, %v; want nothing", src, got, err)
		}
	}
}

func TestParseScriptErrors(t *testing.T) {
	for _, tc := range ctBadLines {
		t.Run(tc.name, func(t *testing.T) {
			got, err := engine.ParseScript("my.chaos", tc.src)
			if err == nil {
				t.Fatalf("%q parsed to %+v; want an error", tc.src, got)
			}
			if got != nil {
				t.Errorf("actions returned with an error: %+v", got)
			}
			var se *engine.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *ScriptError", err, err)
			}
			if se.Line != tc.line || se.Name != "my.chaos" {
				t.Errorf("error at %s:%d, want my.chaos:%d (%v)", se.Name, se.Line, tc.line, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(se.Msg, w) {
					t.Errorf("message %q does not name %q", se.Msg, w)
				}
			}
			if prefix := "my.chaos:" + strconv.Itoa(tc.line) + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
			}
		})
	}
}

func TestParseScriptErrorWrapsErrBadScript(t *testing.T) {
	_, err := engine.ParseScript("chaos", "5s explode web-1 web-2")
	if !errors.Is(err, engine.ErrBadScript) {
		t.Fatalf("errors.Is(%v, ErrBadScript) = false", err)
	}
}

func TestParseActionNaN(t *testing.T) {
	for _, f := range [][]string{{"rate", "NaN"}, {"spike", "nanx", "10s"}, {"speed", "NaN"}} {
		if a, err := engine.ParseAction(f); err == nil {
			t.Errorf("%v parsed to %+v; want an error", f, a)
		}
	}
}

func TestParseActionEmpty(t *testing.T) {
	if _, err := engine.ParseAction(nil); err == nil {
		t.Fatal("ParseAction(nil) succeeded")
	}
}

func FuzzParseScript(f *testing.F) {
	for _, tc := range ctGoodLines {
		f.Add(tc.src)
	}
	for _, tc := range ctBadLines {
		f.Add(tc.src)
	}
	f.Add("# header\n\n10s rate 100\n5s kill a\n5s kill b\n0 pause\n")
	f.Add("5s kill web-1\r\n6s restart web-1\r\n")
	f.Fuzz(func(t *testing.T, src string) {
		lines := len(strings.Split(src, "\n"))
		got, err := engine.ParseScript("fuzz", src)
		if err != nil {
			var se *engine.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *ScriptError", err, err)
			}
			if se.Line < 1 || se.Line > lines {
				t.Fatalf("error line %d outside 1..%d: %v", se.Line, lines, err)
			}
			if se.Msg == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for i, tm := range got {
			if tm.At < 0 {
				t.Fatalf("action %d at %v < 0", i, tm.At)
			}
			if !ctKnownKinds[tm.Action.Kind] && !ctComponentKind.MatchString(string(tm.Action.Kind)) {
				t.Fatalf("action %d has kind %q, neither the core's nor a plain word", i, tm.Action.Kind)
			}
			if tm.Line < 1 || tm.Line > lines {
				t.Fatalf("action %d line %d outside 1..%d", i, tm.Line, lines)
			}
			if i > 0 {
				prev := got[i-1]
				if tm.At < prev.At || tm.At == prev.At && tm.Line <= prev.Line {
					t.Fatalf("actions out of order: %+v then %+v", prev, tm)
				}
			}
			a := tm.Action
			if math.IsNaN(a.Value) {
				t.Fatalf("line %d parsed to NaN: %+v", tm.Line, a)
			}
			switch a.Kind {
			case engine.ActRate:
				if a.Value < 0 || a.Value > engine.MaxRate {
					t.Fatalf("rate %v out of range", a.Value)
				}
			case engine.ActSpike:
				if a.Value < 1 || a.Value > 20 || a.Dur <= 0 || a.Dur > 10*time.Minute {
					t.Fatalf("spike %v out of range", a)
				}
			case engine.ActSpeed:
				if a.Value < engine.MinSpeed || a.Value > engine.MaxSpeed {
					t.Fatalf("speed %v out of range", a.Value)
				}
			case engine.ActLatency:
				if a.Dur < 0 || a.Dur > time.Minute {
					t.Fatalf("latency %v out of range", a.Dur)
				}
			}
			again, err := engine.ParseAction(strings.Fields(a.String()))
			if err != nil || again != a {
				t.Fatalf("String() %q of %+v parses to %+v, %v", a.String(), a, again, err)
			}
		}
	})
}

// A byte order mark is not an error; a huge field is quoted short.
func TestParseScriptBOMAndHugeField(t *testing.T) {
	got, err := engine.ParseScript("bom.chaos", "\ufeff2s kill web-1\n")
	if err != nil || len(got) != 1 || got[0].Action.Target != "web-1" {
		t.Fatalf("a script with a BOM: %+v, %v", got, err)
	}
	huge := strings.Repeat("x", 5000)
	_, err = engine.ParseScript("huge.chaos", "2s rate "+huge+"\n")
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "xxx…") {
		t.Errorf("a 5,000-byte field: error %d bytes long: %.300v", len(fmt.Sprint(err)), err)
	}
}
