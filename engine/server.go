package engine

import (
	"context"
	"errors"
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
	// Listen is the address to listen on the first time ("127.0.0.1:0"
	// when empty): a data center's entry takes a loopback address of its
	// own, so which one a user reached is the address DNS gave.
	Listen string
	// OnUp, when set, runs after a restart has brought the node back, and
	// OnKill after a kill; a database uses them to stop and resume
	// replication. OnBoot runs during a restart before the node listens
	// again (a replica far behind re-seeds its files then).
	OnUp, OnKill, OnBoot func()
}

// Server is a node that serves HTTP: a real HTTP server on a loopback port
// chosen by the OS, with the lifecycle every node shares. A kill crashes it
// (listener and connections closed, in-flight handlers cancelled) and a
// restart brings it back on the same port after a boot time.
type Server struct {
	*Lifecycle
	cfg     ServerConfig
	handler http.Handler

	mu     sync.Mutex
	srv    *http.Server
	cancel context.CancelFunc // ends the current incarnation's handlers
	wg     sync.WaitGroup     // the Serve goroutines

	inflight atomic.Int64
	// fullSnaps counts the snapshots in a row that found the queue full
	fullSnaps atomic.Int32
}

// NewServer makes a server; Start listens.
func NewServer(cfg ServerConfig, clock *Clock, events *EventLog, h http.Handler) *Server {
	s := &Server{cfg: cfg, handler: h}
	s.Lifecycle = NewLifecycle(LifecycleConfig{Name: cfg.Name, Boot: cfg.Boot, OnKill: cfg.OnKill, OnBoot: cfg.OnBoot, OnUp: cfg.OnUp}, (*httpProcess)(s), clock, events)
	return s
}

// Role and Capacity expose the configuration.
func (s *Server) Role() Role          { return s.cfg.Role }
func (s *Server) Capacity() *Capacity { return s.cfg.Capacity }

// URL is "http://" + Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// httpProcess is a Server as its lifecycle runs it.
type httpProcess Server

func (p *httpProcess) Listen(addr string) (string, error) {
	s := (*Server)(p)
	if addr == "" {
		addr = s.cfg.Listen
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quietLog,
	}
	s.mu.Lock()
	s.srv, s.cancel = srv, cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln) // returns when a crash or Close closes it
	}()
	return ln.Addr().String(), nil
}

func (p *httpProcess) Crash() {
	s := (*Server)(p)
	s.mu.Lock()
	srv, cancel := s.srv, s.cancel
	s.srv, s.cancel = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close() // connections first: a crashed node answers nothing more
	cancel()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Private != "" && r.Header.Get(HeaderVia) != s.cfg.Private {
		http.Error(w, "private address: this server answers only the nodes in front of it", http.StatusForbidden)
		return
	}
	start := s.Clock().Now()
	s.Begin()
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	sw := &statusWriter{ResponseWriter: w, code: 200}
	if s.Delay(r.Context()) != nil {
		return
	}
	s.handler.ServeHTTP(sw, r)
	s.Done(s.Clock().Now()-start, sw.code >= 500)
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
	return s.Clock().Sleep(ctx, d)
}

// HeaderReason names why a node refused a request, so a client can tell a
// full queue from other 5xx answers; proxies pass it on.
const HeaderReason = "X-Scalelab-Reason"

// Overloaded answers 503 for a request turned away by a full queue.
func (s *Server) Overloaded(w http.ResponseWriter) {
	w.Header().Set(HeaderReason, ReasonQueueFull)
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

// saturatedSnaps is how many snapshots in a row (a second at TickEvery)
// must find a full queue before a node shows as saturated.
const saturatedSnaps = 4

// Snap returns the common part of the node's snapshot.
func (s *Server) Snap() NodeSnap {
	n := s.Lifecycle.Snap(s.cfg.Role, s.cfg.Layer)
	n.Public = s.cfg.Private == ""
	n.InFlight = s.inflight.Load()
	if c := s.cfg.Capacity; c != nil {
		_, queued, limit, qcap := c.Load()
		n.Queued, n.Workers, n.QueueCap = int64(queued), limit, qcap
		// saturated once the queue has held at least a worker's worth for
		// saturatedSnaps snapshots in a row: under random arrivals a queue
		// below capacity fills for an instant now and then, which is not
		// saturation (chapter 2's app-1 flickered at 70% of capacity)
		full := int32(0)
		if queued >= limit {
			full = s.fullSnaps.Add(1)
		} else {
			s.fullSnaps.Store(0)
		}
		if n.State == StateUp && full >= saturatedSnaps {
			n.State = StateSaturated
		}
	}
	return n
}

// Close stops the node for good and waits for its goroutines.
func (s *Server) Close() error {
	err := s.Lifecycle.Close()
	s.wg.Wait()
	return err
}
