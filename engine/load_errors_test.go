// Tests of failed requests: error classes, killed and stuck servers,
// timeouts, the in-flight limit and shutdown.

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	opErr := func(e error) error {
		return &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}}
	}
	readErr := func(e error) error {
		return &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)}}
	}
	tests := []struct {
		name       string
		err, cause error
		want       string
	}{
		{"refused", opErr(syscall.ECONNREFUSED), nil, ReasonRefused},
		{"reset", readErr(syscall.ECONNRESET), nil, ReasonReset},
		{"broken pipe", readErr(syscall.EPIPE), nil, ReasonReset},
		// a connection never made is refused, whatever the kernel said
		{"reset while dialling", opErr(syscall.ECONNRESET), nil, ReasonRefused},
		{"EOF", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, nil, ReasonReset},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), nil, ReasonReset},
		{"cause deadline", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, context.DeadlineExceeded, ReasonTimeout},
		{"deadline beats refused", opErr(syscall.ECONNREFUSED), context.DeadlineExceeded, ReasonTimeout},
		{"err deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nil, ReasonTimeout},
		{"os deadline", &url.Error{Op: "Get", URL: "http://x", Err: os.ErrDeadlineExceeded}, nil, ReasonTimeout},
		{"net timeout", &net.DNSError{Err: "slow", IsTimeout: true}, nil, ReasonTimeout},
		{"cancelled", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, context.Canceled, ReasonOther},
		{"other", errors.New("boom"), nil, ReasonOther},
	}
	for _, tc := range tests {
		if got := Classify(tc.err, tc.cause); got != tc.want {
			t.Errorf("%s: Classify(%v, %v) = %q, want %q", tc.name, tc.err, tc.cause, got, tc.want)
		}
	}
}

func TestLoadKilledServerRefused(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) { c.Uniform = true; c.Rate = 100 })
	if err := r.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	tot := r.run(t, time.Second)
	if tot.Sent < 95 || tot.OK != 0 || tot.FailedByReason[ReasonRefused] != tot.Sent {
		t.Fatalf("against a killed server: %+v, want every request refused", tot)
	}
	if p := r.sys.Snapshot().Series; len(p) < 1 || p[0].Sent < 95 || p[0].Failed != p[0].Sent || p[0].OK != 0 {
		t.Errorf("series %+v: want a first second with every request failed", p)
	}
}

// A server that never answers: requests time out after the client's lab
// timeout, and past MaxInFlight the generator drops rather than queues.
func ctStuck(t *testing.T) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

func TestLoadTimeout(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) { c.Uniform = true; c.Rate = 50; c.Timeout = 300 * time.Millisecond })
	start := r.start(t)
	_ = r.sys.Clock.SleepUntil(context.Background(), start+time.Second)
	r.waitPacer(t, 1)
	r.load.SetRate(0)
	sent := r.load.Totals().Sent
	if sent < 45 {
		t.Fatalf("sent %d in 1s at 50/s", sent)
	}
	ctEventually(t, "timeouts", 10*time.Second, func() bool { return r.load.Totals().Failed >= sent })
	tot := r.load.Totals()
	if tot.OK != 0 || tot.FailedByReason[ReasonTimeout] != tot.Sent {
		t.Fatalf("against a stuck server: %+v, want every request a timeout", tot)
	}
}

func TestLoadMaxInFlight(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) {
		c.Uniform = true
		c.Rate = 100
		c.MaxInFlight = 5
		c.Timeout = time.Minute
	})
	r.start(t)
	ctEventually(t, "drops", 10*time.Second, func() bool { return r.load.Totals().FailedByReason[ReasonDropped] >= 20 })
	r.load.SetRate(0)
	// once the generator stops, exactly the cap is in flight and every
	// other request was dropped, none queued
	ctEventually(t, "generator settles", 10*time.Second, func() bool {
		tot := r.load.Totals()
		return tot.Sent-tot.Failed == 5 && r.load.inflight.Load() == 5
	})
	if tot := r.load.Totals(); tot.OK != 0 || tot.Failed != tot.FailedByReason[ReasonDropped] {
		t.Errorf("totals %+v: want 5 in flight and the rest dropped", tot)
	}
}

func TestLoadShutdownNotCountedOK(t *testing.T) {
	t.Parallel()
	r := ctNewLoadRig(t, ctStuck(t), func(c *LoadConfig) { c.Uniform = true; c.Rate = 100; c.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.sys.Clock.Resume()
	go func() { defer close(done); r.load.Run(ctx) }()
	ctEventually(t, "requests in flight", 10*time.Second, func() bool { return r.load.inflight.Load() >= 20 })
	cancel()
	<-done
	if tot := r.load.Totals(); tot.OK != 0 {
		t.Fatalf("the server answered nothing, yet OK = %d after stopping the load (%+v)", tot.OK, tot)
	}
}

// A 503 from a node whose queue is full is counted as queue-full, also
// through a proxy that copies the answer's headers; other 5xx stay 5xx.
func TestFinishNamesAFullQueue(t *testing.T) {
	clock := NewClock()
	srv := NewServer(ServerConfig{Name: "web-1", Role: "web"}, clock, NewEventLog(clock), http.NotFoundHandler())
	full := httptest.NewRecorder()
	srv.Overloaded(full)
	if got := Finish(context.Background(), full.Result()); got != ReasonQueueFull {
		t.Errorf("a full queue's answer is %q, want %q", got, ReasonQueueFull)
	}
	other := httptest.NewRecorder()
	http.Error(other, "no healthy targets", http.StatusServiceUnavailable)
	if got := Finish(context.Background(), other.Result()); got != Reason5xx {
		t.Errorf("another 503 is %q, want %q", got, Reason5xx)
	}
}
