package queue

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"scalelab/engine"
	"scalelab/engine/web"
)

// How a front handles an order's slow part.
const (
	ModeInline = "inline" // inside the request, holding a web worker
	ModeQueued = "queued" // a message for the workers; the request answers at once
)

// FrontConfig describes the web server that takes orders.
type FrontConfig struct {
	Name string
	Size string
	// Web is the request's own web work; Slow the slow part of an order
	// (the work queue's Work), done inline or by a worker.
	Web, Slow time.Duration
	Queue     *WorkQueue // nil: no work queue
	Log       *EventLog  // nil: no event log
	// Events are the kinds of event an order appends to the log, in order
	// ("completed"; or created, paid, shipped).
	Events []string
}

// Front is a web server taking orders: POST /order?id=N&amount=C. Each
// order's slow part runs inline or goes on the work queue, and its events
// are appended to the log.
type Front struct {
	*engine.Server
	*engine.Sized
	cfg  FrontConfig
	mode atomic.Value
}

// NewFront makes the front (sys.AddNode starts it).
func NewFront(sys *engine.System, cfg FrontConfig) (*Front, error) {
	f := &Front{cfg: cfg}
	f.mode.Store(ModeQueued)
	var err error
	f.Server, f.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: web.RoleWeb, Layer: engine.LayerWeb}, cfg.Size, f.handle)
	return f, err
}

// SetMode sets inline or queued.
func (f *Front) SetMode(m string) { f.mode.Store(m) }

// Mode is the current mode.
func (f *Front) Mode() string { return f.mode.Load().(string) }

func (f *Front) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/order" {
		http.Error(w, "POST /order?id=N&amount=CENTS", http.StatusNotFound)
		return
	}
	id, err1 := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	amount, err2 := strconv.ParseInt(r.URL.Query().Get("amount"), 10, 64)
	if err1 != nil || err2 != nil {
		http.Error(w, "id and amount are numbers", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	release, err := f.Hold(ctx)
	if err != nil {
		f.Overloaded(w)
		return
	}
	defer release()
	if f.Work(ctx, f.cfg.Web) != nil {
		return
	}
	now := f.Clock().Now()
	if f.cfg.Log != nil {
		var ms []Msg
		for i, k := range f.cfg.Events {
			ms = append(ms, Msg{Order: id, Seq: i + 1, Kind: k, Amount: amount, At: now})
		}
		if err := f.cfg.Log.Append(ctx, ms); err != nil {
			http.Error(w, "event log: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	if q := f.cfg.Queue; q != nil {
		m := Msg{Order: id, Seq: 1, Kind: "order", Amount: amount, At: now}
		if f.Mode() == ModeInline {
			if f.Work(ctx, f.cfg.Slow) != nil {
				return
			}
			q.EffectInline(m)
			w.WriteHeader(http.StatusOK)
			return
		}
		if _, err := q.Enqueue(ctx, m); err != nil {
			http.Error(w, "queue: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// Snap adds the size and mode.
func (f *Front) Snap() engine.NodeSnap {
	s := f.Server.Snap()
	f.Fill(&s)
	if f.cfg.Queue != nil {
		if f.Mode() == ModeInline {
			s.Detail = engine.Textf("queue.front.inline", "orders: slow part inline (%s)", f.cfg.Slow)
		} else {
			s.Detail = engine.Textf("queue.front.queued", "orders: slow part queued")
		}
	}
	return s
}
