package engine_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"scalelab/engine"
)

// A text says itself in English, nested texts and knob values too, and
// keeps its key and arguments for the lab to say it in another language.
func TestText(t *testing.T) {
	why := engine.Textf("lb.eject.checks", "health check failed %s", engine.Plural(2, "time"))
	if got := why.String(); got != "health check failed 2 times" {
		t.Errorf("String = %q", got)
	}
	if why.Key != "lb.eject.checks" || len(why.Args) != 1 || why.Args[0].(engine.Text).Key != "count.time" {
		t.Errorf("keyed text %#v", why)
	}
	if got := engine.Textf("knob.set", "%s", engine.KnobValue("least-conn")).String(); got != "least-conn" {
		t.Errorf("knob value says %q", got)
	}
	if got := engine.Textf("x", "100%% of %d", 3).String(); got != "100% of 3" {
		t.Errorf("String = %q", got)
	}
	if !(engine.Text{}).Empty() || engine.Textf("x", "").Empty() || engine.Textf("", "y").Empty() {
		t.Error("Empty")
	}
	for _, tc := range []struct {
		l    engine.Line
		want string
	}{
		{engine.Line{Label: engine.Textf("repl.lag", "lag"), Value: engine.Textf("repl.lag.value", "%d positions", 3)}, "lag: 3 positions"},
		{engine.Line{Label: engine.Textf("cache.hottest", "hottest keys:")}, "hottest keys:"},
		{engine.Line{Item: true, Label: engine.Textf("cdn.file", "%s v%s", "/app.css", "2")}, "  /app.css v2"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("line %q, want %q", got, tc.want)
		}
	}
}

// An event keeps its detail in English, on one line, for reports and
// tests, and its text for the lab; a report's JSON has the detail only.
func TestEventText(t *testing.T) {
	l := engine.NewEventLog(engine.NewClock())
	l.Add(engine.EvInfo, "db-1", engine.Textf("repl.store_failed", "storing the log failed: %v", errors.New("disk\nfull")))
	e := l.All()[0]
	if e.Detail != "storing the log failed: disk full" || e.Text.Key != "repl.store_failed" {
		t.Errorf("event %+v", e)
	}
	b, err := json.Marshal(e)
	if err != nil || strings.Contains(string(b), "store_failed") || !strings.Contains(string(b), `"detail":"storing the log failed: disk full"`) {
		t.Errorf("json %s, %v", b, err)
	}
}
