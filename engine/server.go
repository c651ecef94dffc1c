package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HeaderVia carries the load balancer's token to private web servers; a
// private server refuses requests without it, the way a server on a private
// network cannot be reached from outside.
const HeaderVia = "X-Scalelab-Via"

// ErrNotDown is returned by Restart when the node is not down.
var ErrNotDown = errors.New("node is not down")

// ErrDown is returned when an action needs a running node.
var ErrDown = errors.New("node is down")

// Node is anything in the topology that can be broken.
type Node interface {
	Name() string
	Role() Role
	Addr() string
	State() State
	Kill() error
	Restart() error
	SetLatency(d time.Duration)
	Snap() NodeSnap
	Close() error
}

// ServerConfig describes one node's server.
type ServerConfig struct {
	Name string
	Role Role
	// Layer is where the node sits on a request's path (drawing only).
	Layer Layer
	// Capacity, when set, is the modelled machine: handlers Hold a worker
	// for their modelled work; when the queue is full they answer 503. nil
	// means unbounded (a load balancer).
	Capacity *Capacity
	// Private, when set, is the token a request must carry in HeaderVia.
	Private string
	// Boot is how long a restart takes in lab time.
	Boot time.Duration
	// OnUp, when set, runs after a restart has brought the node back, and
	// OnKill after a kill; a database uses them to stop and resume
	// replication. OnBoot runs during a restart before the node listens
	// again (a replica far behind re-seeds its files then).
	OnUp, OnKill, OnBoot func()
}

// Server is the lifecycle every node shares: a real HTTP server on a loopback
// port chosen by the OS, which a kill crashes (listener and connections
// closed) and a restart brings back on the same port after a boot time.
type Server struct {
	cfg     ServerConfig
	clock   *Clock
	events  *EventLog
	handler http.Handler

	mu      sync.Mutex
	state   State
	addr    string
	srv     *http.Server
	cancel  context.CancelFunc // ends the current incarnation's handlers
	closed  bool
	wg      sync.WaitGroup
	life    context.Context // ends when the server is closed
	endLife context.CancelFunc

	latency  atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64
	inflight atomic.Int64
	win      *Window
}

// NewServer makes a server; Start listens.
func NewServer(cfg ServerConfig, clock *Clock, events *EventLog, h http.Handler) *Server {
	if cfg.Boot == 0 {
		cfg.Boot = 2 * time.Second
	}
	life, end := context.WithCancel(context.Background())
	return &Server{cfg: cfg, clock: clock, events: events, handler: h, state: StateDown, win: NewWindow(clock, 5), life: life, endLife: end}
}

// Name, Role, Capacity and Clock expose the configuration.
func (s *Server) Name() string        { return s.cfg.Name }
func (s *Server) Role() Role          { return s.cfg.Role }
func (s *Server) Capacity() *Capacity { return s.cfg.Capacity }
func (s *Server) Clock() *Clock       { return s.clock }
func (s *Server) Events() *EventLog   { return s.events }

// Addr is the node's host:port; it stays the same across restarts.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is "http://" + Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// State returns up, down or restarting (saturation is added by Snap).
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Start listens on a new loopback port.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return s.listenLocked(addr)
}

func (s *Server) listenLocked(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", s.cfg.Name, err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          QuietLog,
	}
	s.srv, s.cancel, s.state = srv, cancel, StateUp
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln) // returns when Kill or Close closes it
	}()
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Private != "" && r.Header.Get(HeaderVia) != s.cfg.Private {
		http.Error(w, "private address: reach this server through the load balancer", http.StatusForbidden)
		return
	}
	start := s.clock.Now()
	s.requests.Add(1)
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	sw := &statusWriter{ResponseWriter: w, code: 200}
	ctx := r.Context()
	if d := time.Duration(s.latency.Load()); d > 0 {
		if s.clock.Sleep(ctx, d) != nil {
			return
		}
	}
	s.handler.ServeHTTP(sw, r)
	failed := sw.code >= 500
	if failed {
		s.errors.Add(1)
	}
	s.win.Record(s.clock.Now()-start, failed)
}

// Hold takes one of the node's workers for the modelled work of a request,
// waiting in its queue when all are busy. It fails with ErrQueueFull when
// the queue is full (the handler answers 503). A node with no Capacity
// always succeeds. release must be called once.
func (s *Server) Hold(ctx context.Context) (release func(), err error) {
	c := s.cfg.Capacity
	if c == nil {
		return func() {}, nil
	}
	return c.Acquire(ctx)
}

// Work spends d of modelled service time on the lab clock. Call it while
// holding a worker.
func (s *Server) Work(ctx context.Context, d time.Duration) error {
	return s.clock.Sleep(ctx, d)
}

// Overloaded answers 503 for a request turned away by a full queue.
func (s *Server) Overloaded(w http.ResponseWriter) {
	http.Error(w, s.cfg.Name+": overloaded (queue full)", http.StatusServiceUnavailable)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Kill crashes the node: the listener and every open connection close at
// once and in-flight handlers are cancelled.
func (s *Server) Kill() error {
	s.mu.Lock()
	if s.state != StateUp {
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("%s is %s: %w", s.cfg.Name, st, ErrDown)
	}
	srv, cancel := s.srv, s.cancel
	s.state, s.srv, s.cancel = StateDown, nil, nil
	s.mu.Unlock()
	_ = srv.Close() // connections first: a crashed node answers nothing more
	cancel()
	s.events.Add(EvKill, s.cfg.Name, "crashed: listener and connections closed")
	if s.cfg.OnKill != nil {
		s.cfg.OnKill()
	}
	return nil
}

// Restart brings a dead node back on the same address after its boot time.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.state != StateDown || s.closed {
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("%s is %s: %w", s.cfg.Name, st, ErrNotDown)
	}
	s.state = StateRestarting
	s.mu.Unlock()
	s.events.Add(EvRestart, s.cfg.Name, "booting (%s)", s.cfg.Boot)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.clock.Sleep(s.life, s.cfg.Boot)
		if s.cfg.OnBoot != nil && s.life.Err() == nil {
			s.cfg.OnBoot()
		}
		if s.boot() && s.cfg.OnUp != nil {
			s.cfg.OnUp()
		}
	}()
	return nil
}

// boot listens again on the node's address after a restart and reports
// whether the node is up.
func (s *Server) boot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.state != StateRestarting {
		return false
	}
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to free
		if err = s.listenLocked(s.addr); err == nil {
			break
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		s.mu.Lock()
	}
	if err != nil {
		s.state = StateDown
		s.events.Add(EvInfo, s.cfg.Name, "restart failed: %v", err)
		return false
	}
	s.events.Add(EvUp, s.cfg.Name, "up on %s", s.addr)
	return true
}

// SetLatency adds d of lab latency to every request this node handles.
func (s *Server) SetLatency(d time.Duration) {
	s.latency.Store(int64(d))
}

// Latency returns the injected latency.
func (s *Server) Latency() time.Duration { return time.Duration(s.latency.Load()) }

// Snap returns the common part of the node's snapshot.
func (s *Server) Snap() NodeSnap {
	rps, q := s.win.Stats()
	n := NodeSnap{
		Name:     s.cfg.Name,
		Role:     s.cfg.Role,
		Layer:    s.cfg.Layer,
		State:    s.State(),
		Addr:     s.Addr(),
		Public:   s.cfg.Private == "",
		InFlight: s.inflight.Load(),
		Requests: s.requests.Load(),
		Errors:   s.errors.Load(),
		RPS:      rps,
		P50:      q.P50,
		P99:      q.P99,
		Latency:  s.Latency(),
	}
	if n.State != StateUp {
		n.Addr = ""
	}
	if c := s.cfg.Capacity; c != nil {
		_, queued, limit, qcap := c.Load()
		n.Queued, n.Workers, n.QueueCap = int64(queued), limit, qcap
		if n.State == StateUp && queued >= limit {
			n.State = StateSaturated
		}
	}
	return n
}

// Close stops the node for good and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv, cancel := s.srv, s.cancel
	s.srv, s.cancel, s.state = nil, nil, StateDown
	s.mu.Unlock()
	s.endLife()
	if cancel != nil {
		cancel()
	}
	if srv != nil {
		_ = srv.Close()
	}
	s.wg.Wait()
	return nil
}
