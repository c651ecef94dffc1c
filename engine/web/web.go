package web

import (
	"context"
	"io"
	"net/http"
	"scalelab/engine"
	"scalelab/engine/sqldb"
)

const pageHTML = `<!doctype html><html><head><title>scalelab</title></head><body><h1>hello</h1><p>a page that needs no data</p></body></html>`

// WebConfig describes a web server.
type WebConfig struct {
	Name string
	Size string
	Work engine.WorkModel
	// Private servers refuse requests that did not come through the LB.
	Private bool
	// Store returns the data tier to use now; a knob may switch it live.
	Store func() engine.Store
}

// WebNode is a stateless web server. A worker is held only for the web work
// of a request; while the request waits on the data tier the worker serves
// others (as an event loop or goroutines would), so each tier saturates on
// its own.
type WebNode struct {
	*engine.Server
	*engine.Sized
	cfg WebConfig
}

// NewWebNode makes a web server (not yet listening; sys.AddNode starts it).
func NewWebNode(sys *engine.System, cfg WebConfig) (*WebNode, error) {
	n := &WebNode{cfg: cfg}
	token := ""
	if cfg.Private {
		token = sys.Token
	}
	var err error
	n.Server, n.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: RoleWeb, Layer: engine.LayerWeb, Private: token}, cfg.Size, n.handle)
	return n, err
}

func (n *WebNode) handle(w http.ResponseWriter, r *http.Request) {
	op, key, body, ok := sqldb.DataRequest(w, r, http.StatusNotFound)
	if !ok {
		return
	}
	if !n.webWork(w, r.Context(), op) {
		return
	}
	if op == engine.OpPage || op == engine.OpUpload {
		io.WriteString(w, pageHTML)
		return
	}
	out, err := n.cfg.Store().Do(r.Context(), op, key, body)
	if err != nil {
		http.Error(w, "data tier: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Write(out)
}

// webWork holds a worker for the web part of a request. It answers 503 and
// returns false when the node is overloaded.
func (n *WebNode) webWork(w http.ResponseWriter, ctx context.Context, op engine.Op) bool {
	release, err := n.Hold(ctx)
	if err != nil {
		n.Overloaded(w)
		return false
	}
	defer release()
	return n.Work(ctx, n.cfg.Work.WebOf(op)) == nil
}

// Snap adds the size and cost.
func (n *WebNode) Snap() engine.NodeSnap {
	s := n.Server.Snap()
	n.Sized.Fill(&s)
	return s
}

// AppConfig describes a server that does web and data work on one machine.
type AppConfig struct {
	Name  string
	Size  string
	Work  engine.WorkModel
	Shape sqldb.DataShape
	Seed  int64
}

// AppNode is one server doing everything: web work and data work (its own
// SQLite file) share its workers, so a burst of data work delays pages.
type AppNode struct {
	*engine.Server
	*engine.Sized
	Data *sqldb.SQLData
	cfg  AppConfig
}

// NewAppNode makes a one-box server with its own database file.
func NewAppNode(sys *engine.System, cfg AppConfig) (*AppNode, error) {
	data, err := sqldb.OpenData(sys, cfg.Name, cfg.Shape, cfg.Seed)
	if err != nil {
		return nil, err
	}
	n := &AppNode{Data: data, cfg: cfg}
	n.Server, n.Sized, err = engine.NewMachine(sys, engine.ServerConfig{Name: cfg.Name, Role: RoleApp, Layer: engine.LayerWeb}, cfg.Size, n.handle)
	return n, err
}

func (n *AppNode) handle(w http.ResponseWriter, r *http.Request) {
	op, key, body, ok := sqldb.DataRequest(w, r, http.StatusNotFound)
	if !ok {
		return
	}
	ctx := r.Context()
	release, err := n.Hold(ctx)
	if err != nil {
		n.Overloaded(w)
		return
	}
	defer release()
	if n.Work(ctx, n.cfg.Work.WebOf(op)+n.cfg.Work.Data(op)) != nil {
		return
	}
	if op == engine.OpPage || op == engine.OpUpload {
		io.WriteString(w, pageHTML)
		return
	}
	out, err := n.Data.Do(ctx, op, key, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(out)
}

// Snap adds the size and cost.
func (n *AppNode) Snap() engine.NodeSnap {
	s := n.Server.Snap()
	n.Sized.Fill(&s)
	s.Detail = engine.Textf("web.detail", "web + sqlite")
	return s
}
