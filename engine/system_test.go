package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"scalelab/engine"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"strings"
	"sync"
	"testing"
	"time"
)

// ctNode is an in-memory node for topology tests.
type ctNode struct {
	name string
	role engine.Role

	mu      sync.Mutex
	state   engine.State
	latency time.Duration
	closed  int
}

func newCTNode(name string, role engine.Role) *ctNode {
	return &ctNode{name: name, role: role, state: engine.StateUp}
}

func (n *ctNode) Name() string      { return n.name }
func (n *ctNode) Role() engine.Role { return n.role }
func (n *ctNode) Addr() string      { return "127.0.0.1:1" }
func (n *ctNode) State() engine.State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}
func (n *ctNode) set(st engine.State) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state = st
}
func (n *ctNode) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == engine.StateDown {
		return fmt.Errorf("%s: %w", n.name, engine.ErrDown)
	}
	n.state = engine.StateDown
	return nil
}
func (n *ctNode) Restart() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != engine.StateDown {
		return fmt.Errorf("%s: %w", n.name, engine.ErrNotDown)
	}
	n.state = engine.StateUp
	return nil
}
func (n *ctNode) SetLatency(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latency = d
}
func (n *ctNode) Snap() engine.NodeSnap {
	n.mu.Lock()
	defer n.mu.Unlock()
	return engine.NodeSnap{Name: n.name, Role: n.role, State: n.state, Latency: n.latency}
}
func (n *ctNode) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed++
	return nil
}

// ctTopology is web-1..3 and db-1 as in-memory nodes, and a link web-1>db-1.
func ctTopology(t *testing.T, seed int64) (*engine.System, map[string]*ctNode) {
	t.Helper()
	sys, err := engine.NewSystem(seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	nodes := map[string]*ctNode{}
	for _, n := range []*ctNode{newCTNode("web-1", web.RoleWeb), newCTNode("web-2", web.RoleWeb), newCTNode("web-3", web.RoleWeb), newCTNode("db-1", sqldb.RoleDB)} {
		if err := sys.AddNode(n); err != nil {
			t.Fatal(err)
		}
		nodes[n.name] = n
	}
	sys.AddLink("web-1", "db-1")
	return sys, nodes
}

func ctNames(ns []engine.Node) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return strings.Join(out, ",")
}

func ctEvent(sys *engine.System, kind engine.EventKind, node string) (engine.Event, bool) {
	for _, e := range sys.Events.All() {
		if e.Kind == kind && e.Node == node {
			return e, true
		}
	}
	return engine.Event{}, false
}

func TestSystemNodesNamesRemove(t *testing.T) {
	sys, nodes := ctTopology(t, 1)
	if got := sys.NextName("web"); got != "web-4" {
		t.Errorf("NextName(web) = %s", got)
	}
	if got := sys.NextName("cache"); got != "cache-1" {
		t.Errorf("NextName(cache) = %s", got)
	}
	if err := sys.RemoveNode("web-2"); err != nil {
		t.Fatal(err)
	}
	if nodes["web-2"].closed != 1 {
		t.Error("RemoveNode did not close the node")
	}
	if got := sys.NextName("web"); got != "web-2" {
		t.Errorf("NextName(web) after removing web-2 = %s", got)
	}
	if ctNames(sys.Nodes()) != "web-1,web-3,db-1" {
		t.Errorf("nodes %s", ctNames(sys.Nodes()))
	}
	if _, ok := sys.Node("web-2"); ok {
		t.Error("Node(web-2) after removal")
	}
	sys.AddLink("web-3", "db-1")
	if err := sys.RemoveNode("db-1"); err != nil {
		t.Fatal(err)
	}
	if links := sys.Snapshot().Links; len(links) != 0 {
		t.Errorf("links to a removed node remain: %+v", links)
	}
	if err := sys.RemoveNode("web-9"); !errors.Is(err, engine.ErrUnknownTarget) {
		t.Errorf("RemoveNode(web-9) = %v", err)
	}
}

func TestSystemLifecycle(t *testing.T) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		t.Fatal(err)
	}
	if !sys.Clock.Paused() {
		t.Error("a new system's clock runs before Start")
	}
	if len(sys.Token) != 16 {
		t.Errorf("token %q", sys.Token)
	}
	other, _ := engine.NewSystem(1)
	if other.Token == sys.Token || other.Dir == sys.Dir {
		t.Error("two systems share a token or a directory")
	}
	other.Close()
	if st, err := os.Stat(sys.Dir); err != nil || !st.IsDir() {
		t.Fatalf("lab dir: %v", err)
	}
	if err := os.WriteFile(sys.Dir+"/x.db", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var order []int
	var mu sync.Mutex
	for i := 1; i <= 3; i++ {
		sys.OnClose(func() error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, i)
			return nil
		})
	}
	errClose := errors.New("close failed")
	sys.OnClose(func() error { return errClose })
	stopped := make(chan struct{})
	sys.Go(func(ctx context.Context) {
		<-ctx.Done()
		close(stopped)
	})
	n := newCTNode("web-1", web.RoleWeb)
	if err := sys.AddNode(n); err != nil {
		t.Fatal(err)
	}
	sys.Start()
	if sys.Clock.Paused() {
		t.Error("Start did not start the clock")
	}
	if err := sys.Close(); !errors.Is(err, errClose) {
		t.Errorf("Close = %v, want the closer's error joined", err)
	}
	if !ctDone(stopped) {
		t.Error("Close returned before a Go goroutine ended")
	}
	if sys.Context().Err() == nil {
		t.Error("system context alive after Close")
	}
	if len(order) != 3 || order[0] != 3 || order[2] != 1 {
		t.Errorf("closers ran in order %v, want last registered first", order)
	}
	if n.closed != 1 {
		t.Errorf("node closed %d times", n.closed)
	}
	if _, err := os.Stat(sys.Dir); !os.IsNotExist(err) {
		t.Errorf("lab dir after Close: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if n.closed != 1 {
		t.Errorf("second Close closed the node again")
	}
}
