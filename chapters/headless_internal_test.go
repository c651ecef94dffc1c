package chapters

import (
	"net/http"
	"scalelab/engine"
	"strings"
	"testing"
)

// A script may name a node an earlier `add` line creates, a link to it or
// a group with it, and nothing an add cannot create.
func TestScriptAddsCreates(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	for _, n := range []struct{ name, role string }{{"lb-1", "lb"}, {"web-1", "web"}, {"web-2", "web"}} {
		srv := engine.NewServer(engine.ServerConfig{Name: n.name, Role: engine.Role(n.role)}, sys.Clock, sys.Events, http.NotFoundHandler())
		if err := sys.AddNode(srv); err != nil {
			t.Fatal(err)
		}
	}
	p := scriptAdds{sys: sys, adds: map[string]int{"web": 2, "cache": 1}}
	unknown := engine.ErrUnknownTarget
	for _, tc := range []struct {
		a    engine.Action
		err  error
		want bool
	}{
		{engine.Action{Kind: engine.ActKill, Target: "web-3"}, unknown, true},
		{engine.Action{Kind: engine.ActKill, Target: "web-4"}, unknown, true},  // two webs now, two adds
		{engine.Action{Kind: engine.ActKill, Target: "web-5"}, unknown, false}, // no add makes a fifth
		{engine.Action{Kind: engine.ActKill, Target: "cache-1"}, unknown, true},
		{engine.Action{Kind: engine.ActKill, Target: "cache-2"}, unknown, false},
		{engine.Action{Kind: engine.ActKill, Target: "cache-x"}, unknown, false},
		{engine.Action{Kind: engine.ActKill, Target: "db-2"}, unknown, false},
		{engine.Action{Kind: engine.ActKill, Target: "@cache"}, unknown, true},
		{engine.Action{Kind: engine.ActKill, Target: "@random-cache"}, unknown, true},
		{engine.Action{Kind: engine.ActKill, Target: "@db"}, unknown, false},
		{engine.Action{Kind: engine.ActRemove, Target: "web-3"}, unknown, true},
		{engine.Action{Kind: engine.ActRemove, Target: "web-3"}, engine.ErrNotSupported, false},
		{engine.Action{Kind: engine.ActCut, Target: "web-1,web-3"}, unknown, true},
		{engine.Action{Kind: engine.ActCut, Target: "db-1,web-3"}, unknown, false},
		{engine.Action{Kind: engine.ActLatency, Target: "lb-1>web-3"}, unknown, true},
		{engine.Action{Kind: engine.ActLatency, Target: "web-1>cache-1"}, unknown, true},
		{engine.Action{Kind: engine.ActLatency, Target: "lb-9>web-3"}, unknown, false},
		{engine.Action{Kind: engine.ActLatency, Target: "lb-1>web-9"}, unknown, false},
		{engine.Action{Kind: engine.ActLatency, Target: "lb-1>web-1"}, unknown, false}, // both exist, no such link
	} {
		if got := p.creates(tc.a, tc.err); got != tc.want {
			t.Errorf("%v (%v): %v, want %v", tc.a, tc.err, got, tc.want)
		}
	}
}

// `add replica` makes a database named db-N: a later line may name it.
func TestScriptAddByAlias(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	var dbs []engine.Node
	for _, name := range []string{"db-1", "db-2"} {
		srv := engine.NewServer(engine.ServerConfig{Name: name, Role: engine.Role("db")}, sys.Clock, sys.Events, http.NotFoundHandler())
		if err := sys.AddNode(srv); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, srv)
	}
	sys.Alias("replica", func() []engine.Node { return dbs[1:] })
	p := scriptAdds{sys: sys, adds: map[string]int{}}
	p.count("replica")
	unknown := engine.ErrUnknownTarget
	for target, want := range map[string]bool{"db-3": true, "db-4": false, "replica-1": false, "@replica": true, "@random-replica": true} {
		if got := p.creates(engine.Action{Kind: engine.ActKill, Target: target}, unknown); got != want {
			t.Errorf("after add replica, kill %s: %v, want %v", target, got, want)
		}
	}
}

// A role's node limit is checked against the whole script: the add that
// would pass it is refused, by line, before anything starts.
func TestScriptAddLimit(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	srv := engine.NewServer(engine.ServerConfig{Name: "cache-1", Role: "cache"}, sys.Clock, sys.Events, http.NotFoundHandler())
	if err := sys.AddNode(srv); err != nil {
		t.Fatal(err)
	}
	sys.LimitNodes("cache", 3)
	sys.Handle(engine.ActAdd, func(engine.Action) error { return nil })
	two, err := engine.ParseScript("two", "1s add cache\n2s add cache\n3s kill cache-3\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkScript(sys, "two", two); err != nil {
		t.Errorf("two adds up to the limit of 3: %v", err)
	}
	three, err := engine.ParseScript("three", "1s add cache\n2s add cache\n3s add cache\n")
	if err != nil {
		t.Fatal(err)
	}
	err = checkScript(sys, "three", three)
	if err == nil || !strings.Contains(err.Error(), "three:3:") || !strings.Contains(err.Error(), "3 cache nodes is this lab's limit") {
		t.Errorf("a third add past the limit of 3: %v, want it refused at three:3", err)
	}
}
