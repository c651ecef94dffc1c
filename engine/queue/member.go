package queue

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"scalelab/engine"
)

// member is a process that consumes from the broker: a real HTTP server
// on loopback (its /health, as a worker's port answers a supervisor) that,
// while up, runs a loop polling the broker on the lab clock. A kill stops
// the loop at once, whatever it had in hand; a restart runs it again.
type member struct {
	*engine.Server
	run    func(ctx context.Context)
	status func() any

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

func newMember(sys *engine.System, name string, role engine.Role, run func(ctx context.Context), status func() any) *member {
	m := &member{run: run, status: status}
	m.Server = engine.NewServer(engine.ServerConfig{Name: name, Role: role, Layer: engine.LayerData, Boot: time.Second,
		OnKill: m.stop, OnUp: m.start}, sys.Clock, sys.Events, http.HandlerFunc(m.health))
	return m
}

func (m *member) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(m.status())
}

// Start listens and starts the loop (the first time: AddNode calls it).
func (m *member) Start() error {
	if err := m.Server.Start(); err != nil {
		return err
	}
	m.start()
	return nil
}

func (m *member) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(ctx)
	}()
}

// stop ends the loop and waits for it.
func (m *member) stop() {
	m.mu.Lock()
	cancel := m.cancel
	m.cancel = nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
}

// Close stops the loop and the server for good.
func (m *member) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stop()
	return m.Server.Close()
}
