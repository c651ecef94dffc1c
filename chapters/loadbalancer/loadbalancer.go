package loadbalancer

import (
	"fmt"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/lb"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"slices"
	"strings"
	"sync"
	"time"

	"scalelab/engine"
)

func lbWork() engine.WorkModel {
	return engine.WorkModel{Web: 10 * time.Millisecond, Read: 1 * time.Millisecond, Feed: 6 * time.Millisecond, Write: 8 * time.Millisecond, Upload: uploadTime}
}

func lbMix() engine.Mix { return engine.Mix{engine.OpPage: 70, engine.OpRead: 30} }

// uploadTime is how long an upload holds a web worker (modelled). In the
// elastic step 2 requests in 100 are uploads: at 300 req/s on three
// servers about 6 are in flight on each (of its 16 workers) at any moment,
// so a drained server stays draining until they finish, up to uploadTime.
const uploadTime = 3 * time.Second

func elasticMix() engine.Mix {
	return engine.Mix{engine.OpPage: 68, engine.OpRead: 30, engine.OpUpload: 2}
}

// lbTopology is one public load balancer in front of private web servers
// that share one database.
type lbTopology struct {
	sys *engine.System
	lb  *lb.LB
	db  *sqldb.DBNode

	mu    sync.Mutex
	added []string // web servers the learner added
}

// addedNames returns the web servers the learner added.
func (t *lbTopology) addedNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.added)
}

func buildLB(sys *engine.System, opt chapters.Options, cfg lb.LBConfig, sizes ...string) (*lbTopology, error) {
	db, err := kit.AddDB(sys, "db-1", "xlarge", lbWork(), sqldb.DefaultShape(), opt.Seed)
	if err != nil {
		return nil, err
	}
	cfg.Seed = opt.Seed
	lb, err := lb.NewLB(cfg, sys)
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(lb); err != nil {
		return nil, err
	}
	t := &lbTopology{sys: sys, lb: lb, db: db}
	for _, size := range sizes {
		if _, err := t.addWeb(size); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addWeb adds a private web server and puts it in the target group.
func (t *lbTopology) addWeb(size string) (*web.WebNode, error) {
	name := t.sys.NextName("web")
	link := t.sys.AddLink(t.lb.Name(), name)
	w, err := kit.AddWeb(t.sys, name, size, lbWork(), true, t.db, nil)
	if err != nil {
		return nil, err
	}
	t.lb.AddTarget(w, link)
	return w, nil
}

// elastic lets add, drain and remove change the target group live. What
// each takes is checked before it runs (a whole chaos script, before the
// run starts): add makes web servers, drain and remove take the LB's
// targets.
func (t *lbTopology) elastic() {
	t.sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
		if a.Target != string(web.RoleWeb) {
			return fmt.Errorf("add %s: only web servers can be added here (add web): %w", a.Target, engine.ErrNotSupported)
		}
		return nil
	}, func(a engine.Action) error {
		w, err := t.addWeb("xlarge")
		if err != nil {
			return err
		}
		t.mu.Lock()
		t.added = append(t.added, w.Name())
		t.mu.Unlock()
		return nil
	})
	t.sys.HandleChecked(engine.ActDrain, t.targetsOnly, func(a engine.Action) error {
		nodes, err := t.sys.Resolve(a.Target)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			name := n.Name()
			if err := t.lb.Drain(name, func() { _ = t.sys.RemoveNode(name) }); err != nil {
				return err
			}
		}
		return nil
	})
	t.sys.HandleChecked(engine.ActRemove, t.targetsOnly, func(a engine.Action) error {
		nodes, err := t.sys.Resolve(a.Target)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if err := t.lb.RemoveTarget(n.Name()); err != nil {
				return err
			}
			if err := t.sys.RemoveNode(n.Name()); err != nil {
				return err
			}
		}
		return nil
	})
}

// targetsOnly refuses a drain or remove of a node outside the target group
// (the load balancer itself, the database).
func (t *lbTopology) targetsOnly(a engine.Action, nodes []engine.Node) error {
	var have []string
	for _, ts := range t.lb.Targets() {
		have = append(have, ts.Name)
	}
	for _, n := range nodes {
		if !slices.Contains(have, n.Name()) {
			return fmt.Errorf("%s %s: only %s's targets (%s) can be taken out: %w", a.Kind, n.Name(), t.lb.Name(), strings.Join(have, ", "), engine.ErrNotSupported)
		}
	}
	return nil
}

func policyFact(policy string) string { return "p99_ms_" + strings.ReplaceAll(policy, "-", "_") }

// webKills lists kills of web servers with the LB's knobs at that moment.
type webKill struct {
	ev      engine.Event
	upAt    time.Duration // when the killed server last came up
	health  string
	retries string
}

func webKills(r *chapters.Run) []webKill {
	var out []webKill
	upAt := map[string]time.Duration{}
	for _, e := range r.Events {
		switch {
		case (e.Kind == engine.EvUp || e.Kind == engine.EvAdd) && strings.HasPrefix(e.Node, "web-"):
			upAt[e.Node] = e.T
		case e.Kind == engine.EvKill && strings.HasPrefix(e.Node, "web-"):
			out = append(out, webKill{ev: e, upAt: upAt[e.Node], health: r.KnobAt("lb.health", e.T), retries: r.KnobAt("lb.retries", e.T)})
		}
	}
	return out
}

// LoadBalancer is chapter 3: one public entry, private web servers, policies,
// health checks, retries, adding and draining targets.
func LoadBalancer() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "loadbalancer",
		Number: 3,
		Lesson: kit.FactsLesson,
		Steps: []chapters.Step{
			chapters.StepOf[*lbTopology]{
				ID:     "policies",
				Select: "web-3",
				Build: func(sys *engine.System, opt chapters.Options) (*lbTopology, error) {
					t, err := buildLB(sys, opt, lb.DefaultLBConfig("lb-1"), "medium", "medium", "small")
					if err != nil {
						return nil, err
					}
					sys.AddGauges(func() []engine.Gauge {
						var out []engine.Gauge
						lat := t.lb.PolicyLatency()
						for _, p := range lb.PolicyNames() {
							if q, ok := lat[p]; ok && q.N > 0 {
								out = append(out, kit.MsGauge("p99 "+p, q.P99))
							}
						}
						return out
					})
					return t, kit.StartLoad(sys, opt, 540, lbMix(), t.lb.URL)
				},
				Keys:     []chapters.Key{{Key: "p", Help: "policy", Knob: "lb.policy"}},
				Solution: chapters.Solution{Script: "16s set lb.policy least-conn", For: 33 * time.Second},
				Watch: func(r *chapters.Run, t *lbTopology) {
					lat := t.lb.PolicyLatency()
					for _, p := range lb.PolicyNames() {
						if q, ok := lat[p]; ok && r.KnobTime("lb.policy", p) >= 10*time.Second {
							r.Facts[policyFact(p)] = chapters.Round1(engine.Ms(q.P99))
						}
					}
				},
				Prediction: &chapters.PredictionOf[*lbTopology]{ID: "best-policy", Choices: 3, Unit: "×",
					Measured: kit.FactRatio[*lbTopology](policyFact(lb.PolicyLeastConn), policyFact(lb.PolicyRoundRobin)),
					Correct: func(v float64) int {
						switch {
						case v < 0.8:
							return 1
						case v > 1.25:
							return 0
						}
						return 2
					}},
				Objectives: []chapters.ObjectiveOf[*lbTopology]{
					{ID: "try-rr", Check: func(r *chapters.Run, t *lbTopology) bool {
						return r.KnobTime("lb.policy", lb.PolicyRoundRobin) >= 15*time.Second
					}},
					{ID: "try-lc", Check: func(r *chapters.Run, t *lbTopology) bool {
						return r.KnobTime("lb.policy", lb.PolicyLeastConn) >= 15*time.Second
					}},
				},
			}.Step(),
			chapters.StepOf[*lbTopology]{
				ID: "health",
				Build: func(sys *engine.System, opt chapters.Options) (*lbTopology, error) {
					cfg := lb.DefaultLBConfig("lb-1")
					cfg.Health.Enabled, cfg.Retries = false, 0
					t, err := buildLB(sys, opt, cfg, "medium", "medium", "medium")
					if err != nil {
						return nil, err
					}
					return t, kit.StartLoad(sys, opt, 300, lbMix(), t.lb.URL)
				},
				Keys: []chapters.Key{
					{Key: "c", Help: "health checks", Knob: "lb.health"},
					{Key: "t", Help: "retries", Knob: "lb.retries"},
				},
				// unprotected: 10 s of failures after the kill; protected: the
				// 30 s after the second kill
				Solution: chapters.Solution{Script: "2s kill web-2\n14s restart web-2\n18s set lb.health on\n18s set lb.retries 1\n22s kill web-2", For: 53 * time.Second},
				Watch: func(r *chapters.Run, t *lbTopology) {
					for _, k := range webKills(r) {
						from := kit.SecOf(k.ev.T)
						switch {
						case k.health == "off" && k.retries == "0" && r.Seconds() >= from+11:
							if p, ok := kit.FailedPct(r, from+1, from+11); ok {
								r.Facts["failed_pct_unprotected"] = chapters.Round1(p)
							}
						case k.health == "on" && k.retries != "0":
							for _, e := range r.Events {
								// the passive check can eject on the crash's own
								// connection errors, logged just before the kill
								if e.Kind == lb.EvEject && e.Node == k.ev.Node && e.T > k.upAt {
									r.Facts["eject_ms"] = float64(max(0, (e.T - k.ev.T).Milliseconds()))
									break
								}
							}
							if r.Seconds() >= from+30 {
								if p, ok := kit.FailedPct(r, from, from+30); ok {
									r.Facts["failed_pct_protected"] = chapters.Round1(p)
								}
							}
						}
					}
				},
				Prediction: &chapters.PredictionOf[*lbTopology]{ID: "unprotected-share", Unit: "%", Measured: kit.FactMeasured[*lbTopology]("failed_pct_unprotected")},
				Objectives: []chapters.ObjectiveOf[*lbTopology]{
					{ID: "kill-unprotected", Check: func(r *chapters.Run, t *lbTopology) bool { _, ok := r.Facts["failed_pct_unprotected"]; return ok }},
					{ID: "kill-protected", Check: func(r *chapters.Run, t *lbTopology) bool {
						p, ok := r.Facts["failed_pct_protected"]
						return ok && p < 1
					}},
				},
			}.Step(),
			chapters.StepOf[*lbTopology]{
				ID: "elastic",
				Build: func(sys *engine.System, opt chapters.Options) (*lbTopology, error) {
					t, err := buildLB(sys, opt, lb.DefaultLBConfig("lb-1"), "xlarge", "xlarge", "xlarge")
					if err != nil {
						return nil, err
					}
					t.elastic()
					return t, kit.StartLoadPatient(sys, opt, 300, elasticMix(), t.lb.URL, 10*time.Second)
				},
				Keys: []chapters.Key{
					{Key: "a", Help: "add web", Action: engine.ActAdd, Target: "web"},
					{Key: "d", Help: "drain", Action: engine.ActDrain},
				},
				Solution: chapters.Solution{Script: "2s add web\n5s drain web-1", For: 14 * time.Second},
				Watch: func(r *chapters.Run, t *lbTopology) {
					for _, name := range t.addedNames() {
						if n, ok := r.Latest.Node(name); ok && n.RPS > r.Facts["added_node_rps"] {
							r.Facts["added_node_rps"] = n.RPS
						}
					}
					for _, d := range r.EventsOf(lb.EvDrain) {
						if done, ok := r.LastEvent(lb.EvDrained, d.Node); ok && done.T >= d.T && r.Seconds() > kit.SecOf(done.T) {
							_, _, failed, _ := r.Window(kit.SecOf(d.T), kit.SecOf(done.T)+1)
							r.Facts["drain_failed"] = float64(failed)
							r.Facts["drain_s"] = chapters.Round1((done.T - d.T).Seconds())
						}
					}
				},
				Objectives: []chapters.ObjectiveOf[*lbTopology]{
					{ID: "add", Check: func(r *chapters.Run, t *lbTopology) bool { return r.Facts["added_node_rps"] > 0 }},
					{ID: "drain", Check: func(r *chapters.Run, t *lbTopology) bool { v, ok := r.Facts["drain_failed"]; return ok && v == 0 }},
				},
			}.Step(),
		},
	}
}
