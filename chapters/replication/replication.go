package replication

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/repl"
	"scalelab/engine/web"

	"scalelab/engine"
)

// replicationRate and the mix: reads dominate, as they do in most services.
const replicationRate = 300

func replicationMix() engine.Mix { return engine.Mix{engine.OpRead: 70, engine.OpWrite: 30} }

// replicated is one step's topology: two public web servers (clients pick
// one, as with several DNS records), each with a router to the cluster.
type replicated struct {
	cl      *repl.Cluster
	routers []*repl.Router
	watch   *replWatch
}

// replWatch is what a step's Watch keeps between snapshots; it lives with
// the system, so every opened step starts fresh.
type replWatch struct {
	grow kit.Growth
	upAt map[string]time.Duration // replica restarts waiting to catch up
}

// buildReplication builds the chapter's cluster and load; lead names the
// gauges the step's text tells the learner to watch, shown first.
func buildReplication(sys *engine.System, opt chapters.Options, tune func(*repl.ClusterConfig), lead ...string) (*replicated, error) {
	cfg := repl.DefaultClusterConfig()
	cfg.Seed = opt.Seed
	cfg.LinkDelay = 50 * time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	cl, err := repl.NewCluster(sys, cfg)
	if err != nil {
		return nil, err
	}
	t := &replicated{cl: cl, watch: &replWatch{upAt: map[string]time.Duration{}}}
	var webs []engine.Node
	for _, name := range []string{"web-1", "web-2"} {
		rt := repl.NewRouter(sys, cl, name)
		w, err := web.NewWebNode(sys, web.WebConfig{Name: name, Size: "xlarge", Work: engine.WorkModel{Web: time.Millisecond}, Store: func() engine.Store { return rt }})
		if err != nil {
			return nil, err
		}
		if err := sys.AddNode(w); err != nil {
			return nil, err
		}
		t.routers = append(t.routers, rt)
		webs = append(webs, w)
	}
	recent := kit.NewRing(6 * time.Second)
	sys.AddGauges(func() []engine.Gauge { return kit.LeadGauges(replGauges(sys, cl, recent), lead...) })
	cfgLoad := engine.DefaultLoadConfig()
	cfgLoad.Rate, cfgLoad.Mix, cfgLoad.Seed = replicationRate, replicationMix(), opt.Seed
	if opt.Rate > 0 {
		cfgLoad.Rate = opt.Rate
	}
	cfgLoad.Entry = kit.RandomEntry(opt.Seed, webs...)
	l, err := engine.NewLoad(cfgLoad, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(l)
	return t, nil
}

// replGauges are the chapter's gauges. Stale reads and the primary's share
// of reads are over the last 5 s, so they fall when the cause goes; lost
// writes count since the start (each one is a write a user was told was
// saved).
func replGauges(sys *engine.System, cl *repl.Cluster, recent *kit.Ring) []engine.Gauge {
	st := cl.State()
	rs := cl.RouterStats()
	recent.Add(sys.Clock.Now(), float64(rs.Stale), float64(rs.PrimaryReads), float64(rs.Reads))
	var out []engine.Gauge
	if dv, span, ok := recent.Delta(5 * time.Second); ok {
		out = append(out, engine.Gauge{Name: "stale reads/s", Value: chapters.Round1(kit.PerSec(dv[0], span))})
		if dv[2] > 0 {
			out = append(out, engine.Gauge{Name: "primary reads, last 5 s", Value: chapters.Round1(chapters.Pct(int64(dv[1]), int64(dv[2]))), Unit: "%"})
		}
	}
	out = append(out, engine.Gauge{Name: "lost writes", Value: float64(len(st.Lost))},
		engine.Gauge{Name: "phantom reads", Value: float64(len(st.Phantom))})
	for _, n := range st.Nodes {
		if n.Role == "replica" && n.State == engine.StateUp {
			out = append(out, engine.Gauge{Name: n.Name + " lag", Value: engine.Ms(n.Lag), Unit: "ms"})
		}
	}
	if p := kit.OpP99(sys, engine.OpWrite); p > 0 {
		out = append(out, kit.MsGauge("write p99", p))
	}
	return out
}

// watchReplication latches the chapter's figures on every snapshot.
func watchReplication(r *chapters.Run, t *replicated) {
	w := t.watch
	rs := t.cl.RouterStats()
	okR, badR, _ := r.Sys.Load.OpStats(engine.OpRead)
	reads, stale, primary := w.grow.Of("reads", rs.Reads), w.grow.Of("stale", rs.Stale), w.grow.Of("primary", rs.PrimaryReads)
	readOK, readBad := w.grow.Of("read ok", okR), w.grow.Of("read failed", badR)
	delay, ryw := r.KnobAt("repl.delay", r.Now()), r.KnobAt("repl.ryw", r.Now())
	// reads count under a setting once it has held a second: reads sent
	// before a change may finish after it
	if r.Held(time.Second, "repl.delay", delay, "repl.ryw", ryw) {
		key := kit.FactName(delay) + "_" + kit.FactName(ryw)
		r.Facts["n_reads_"+key] += reads
		r.Facts["n_stale_"+key] += stale
	}
	// reads by how many replicas are up
	st := t.cl.State()
	up := 0
	for _, n := range st.Nodes {
		if n.Role == "replica" && n.State == engine.StateUp {
			up++
		}
	}
	upKey := fmt.Sprintf("%d", up)
	r.Facts["n_readok_up"+upKey] += readOK
	r.Facts["n_readbad_up"+upKey] += readBad
	r.Facts["n_primaryreads_up"+upKey] += primary
	r.Facts["n_reads_up"+upKey] += reads

	for _, d := range []string{"50ms", "200ms", "1s"} {
		if n := r.Facts["n_reads_"+d+"_off"]; n >= 200 {
			r.Facts["stale_per_1k_reads_"+d] = chapters.Round1(1000 * r.Facts["n_stale_"+d+"_off"] / n)
		}
	}
	if n := r.Facts["n_readok_up0"] + r.Facts["n_readbad_up0"]; n >= 50 {
		r.Facts["read_failed_pct_no_replica"] = chapters.Round1(100 * r.Facts["n_readbad_up0"] / n)
		r.Facts["primary_read_pct_no_replica"] = chapters.Round1(100 * r.Facts["n_primaryreads_up0"] / max(r.Facts["n_reads_up0"], 1))
	}
	// a restarted replica catching up: from its up event to zero lag
	for _, e := range r.Events {
		if e.Kind == repl.EvRejoinDB && e.Text.Key == "repl.back_replica" {
			if _, seen := w.upAt[e.Node]; !seen {
				w.upAt[e.Node] = e.T
			}
		}
	}
	for name, at := range w.upAt {
		if at >= 0 && t.cl.CaughtUp(name) {
			r.Facts["catchup_ms"] = float64((r.Now() - at).Milliseconds())
			w.upAt[name] = -1
		}
	}
	// failovers
	mode := r.KnobAt("repl.mode", r.Now())
	r.Facts["max_lag_ms"] = chapters.Round1(engine.Ms(st.MaxLag))
	r.Facts["stale_reads"] = float64(rs.Stale)
	r.Facts["writes_unavailable_ms"] = float64(rs.WritesDown.Milliseconds())
	phantom := map[string]int{} // phantom reads in semi-sync failovers, by wait point
	for i, p := range st.Promotions {
		if cause, ok := lastCause(r, p); ok {
			r.Facts["failover_ms"] = float64((p.At - cause).Milliseconds())
		}
		m := r.KnobAt("repl.mode", p.At)
		if m == repl.ModeSemiSync {
			// semi-sync promises only the writes a replica acknowledged;
			// those acknowledged after it fell back to async count apart
			r.Facts["lost_writes_semi_sync"] = float64(len(p.LostReplicated))
			r.Facts["lost_while_degraded"] = float64(len(p.Lost) - len(p.LostReplicated))
			wp := r.KnobAt("repl.wait-point", p.At)
			phantom[wp] += len(p.Phantom)
		} else {
			r.Facts["lost_writes_"+kit.FactName(m)] = float64(len(p.Lost))
		}
		if i == 0 {
			r.Facts["lost_writes_first_failover"] = float64(len(p.Lost))
		}
		minRep := r.KnobAt("repl.min-replicas", p.At)
		r.Facts["split_brain_writes_min_replicas_"+minRep] = float64(t.cl.SplitBrainWrites(p))
	}
	for wp, n := range phantom {
		r.Facts["phantom_reads_"+kit.FactName(wp)] = float64(n)
	}
	r.Facts["lost_writes"] = float64(len(st.Lost))
	r.Facts["set_aside"] = float64(len(st.SetAside))
	replayed := 0
	for _, s := range st.SetAside {
		if s.Replayed {
			replayed++
		}
	}
	r.Facts["replayed"] = float64(replayed)
	if p := kit.OpP99(r.Sys, engine.OpWrite); p > 0 && r.Held(kit.Settle, "repl.mode", mode) && len(st.Promotions) == 0 {
		_, q := r.Sys.Load.OpRecent(engine.OpWrite)
		r.Facts["write_p50_ms_"+kit.FactName(mode)] = chapters.Round1(engine.Ms(q.P50))
	}
	// semi-sync's write latency at each wait point: between failovers too,
	// once the primary has served for a while
	wp := r.KnobAt("repl.wait-point", r.Now())
	if p := kit.OpP99(r.Sys, engine.OpWrite); p > 0 && mode == repl.ModeSemiSync && r.Held(kit.Settle, "repl.mode", mode, "repl.wait-point", wp, "repl.delay", delay) && quiet(r, kit.Settle) {
		_, q := r.Sys.Load.OpRecent(engine.OpWrite)
		r.Facts["write_p50_ms_"+kit.FactName(wp)] = chapters.Round1(engine.Ms(q.P50))
	}
}

// quiet reports whether no database was killed or promoted in the last d.
func quiet(r *chapters.Run, d time.Duration) bool {
	for i := len(r.Events) - 1; i >= 0 && r.Events[i].T > r.Now()-d; i-- {
		if k := r.Events[i].Kind; k == engine.EvKill || k == repl.EvPromote {
			return false
		}
	}
	return true
}

// lastCause is when the primary that a promotion replaced was killed or
// cut off, before the promotion.
func lastCause(r *chapters.Run, p repl.Promotion) (time.Duration, bool) {
	var t time.Duration = -1
	for _, e := range r.Events {
		if e.T > p.At {
			break
		}
		if (e.Kind == engine.EvKill && e.Node == p.From) || (e.Kind == engine.EvPartition && strings.Contains(","+e.Node+",", ","+p.From+",")) {
			t = e.T
		}
	}
	return t, t >= 0
}

func replicationLesson(r *chapters.Run, t *replicated) map[string]any {
	out := kit.FactsLesson(r)
	st := t.cl.State()
	out["mode"] = st.Mode
	out["lost_write_ids"] = append([]string{}, st.Lost...)
	promoted := []string{}
	for _, p := range st.Promotions {
		promoted = append(promoted, p.To)
	}
	out["promoted"] = strings.Join(promoted, ",")
	var aside []string
	for _, s := range st.SetAside {
		aside = append(aside, s.Entry.WriteID)
	}
	sort.Strings(aside)
	out["set_aside_ids"] = append([]string{}, aside...)
	return out
}

// Replication is chapter 4: a primary takes writes, replicas take reads;
// lag and stale reads; replica and primary failures; async loses
// acknowledged writes on failover, semi-sync does not; a partition.
func Replication() *chapters.Chapter {
	return &chapters.Chapter{
		ID:     "replication",
		Number: 4,
		Lesson: kit.FactsLesson,
		Steps:  chapters.Steps(replicationSteps()...),
	}
}

// replicationSteps are the chapter's steps; they share one topology.
func replicationSteps() []chapters.StepOf[*replicated] {
	staleRatio := func(r *chapters.Run, _ *replicated) (float64, bool) {
		a, ok1 := r.Facts["stale_per_1k_reads_50ms"]
		b, ok2 := r.Facts["stale_per_1k_reads_200ms"]
		if !ok1 || !ok2 {
			return 0, false
		}
		if a == 0 {
			if b == 0 {
				return 1, true
			}
			return 99, true
		}
		return chapters.Round1(b / a), true
	}
	return []chapters.StepOf[*replicated]{
		chapters.StepOf[*replicated]{
			ID:   "read-replicas",
			Owns: []string{"max_lag_ms", "stale_reads"},
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				return buildReplication(sys, opt, nil, "stale reads/s", "lag")
			},
			Keys: []chapters.Key{
				{Key: "y", Help: "replication delay", Knob: "repl.delay"},
				{Key: "w", Help: "read your writes", Knob: "repl.ryw"},
				{Key: "c", Help: "apply cost", Knob: "repl.apply"},
			},
			Solution: chapters.Solution{Script: "12s set repl.delay 200ms\n24s set repl.ryw wait", For: 36 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "stale-delay", Choices: 3, Unit: "×", Measured: staleRatio,
				Correct: func(v float64) int {
					if v < 1.5 {
						return 0
					}
					return 1
				}},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "see-stale", Check: func(r *chapters.Run, t *replicated) bool {
					return r.KnobTime("repl.delay", "200ms") >= 10*time.Second && r.Facts["n_stale_200ms_off"] > 0
				}},
				{ID: "ryw", Check: func(r *chapters.Run, t *replicated) bool {
					for _, m := range []string{repl.RYWPrimary, repl.RYWWait} {
						k := "200ms_" + m
						if r.Facts["n_reads_"+k] >= 1000 && r.Facts["n_stale_"+k] == 0 {
							return true
						}
					}
					return false
				}},
			},
		},
		chapters.StepOf[*replicated]{
			ID:     "replica-dies",
			Select: "db-2",
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				return buildReplication(sys, opt, nil, "primary reads, last 5 s", "lag")
			},
			Keys:     []chapters.Key{{Key: "a", Help: "add replica", Action: engine.ActAdd, Target: "db"}},
			Solution: chapters.Solution{Script: "3s kill db-2\n9s kill db-3\n15s restart db-2\n21s add db", For: 30 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "no-replica-reads", Unit: "%", Measured: kit.FactMeasured[*replicated]("read_failed_pct_no_replica")},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "kill-replica", Check: func(r *chapters.Run, t *replicated) bool {
					return r.Facts["n_readok_up1"] >= 500 && r.Facts["n_readbad_up1"] == 0
				}},
				{ID: "no-replica", Check: func(r *chapters.Run, t *replicated) bool {
					v, ok := r.Facts["read_failed_pct_no_replica"]
					return ok && v == 0
				}},
				{ID: "catch-up", Check: func(r *chapters.Run, t *replicated) bool { _, ok := r.Facts["catchup_ms"]; return ok }},
				{ID: "add-replica", Check: func(r *chapters.Run, t *replicated) bool {
					for _, e := range r.EventsOf(repl.EvSeed) {
						if e.Text.Key == "repl.seeded_new" && t.cl.CaughtUp(e.Node) {
							return true
						}
					}
					return false
				}},
			},
		},
		chapters.StepOf[*replicated]{
			ID:     "failover",
			Owns:   []string{"lost_writes_first_failover", "failover_ms", "lost_writes", "set_aside", "replayed", "writes_unavailable_ms"},
			Select: "db-1",
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				return buildReplication(sys, opt, nil, "lost writes", "lag")
			},
			Keys: []chapters.Key{
				{Key: "y", Help: "replication delay", Knob: "repl.delay"},
				{Key: "R", Help: "replay set-aside", Knob: "repl.recover"},
			},
			// replicas 200 ms away: the kill finds writes not yet shipped
			Solution: chapters.Solution{Script: "0s set repl.delay 200ms\n4s kill db-1\n10s restart db-1\n16s set repl.recover replay", For: 22 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "lost-async", Unit: "writes", Measured: kit.FactMeasured[*replicated]("lost_writes_first_failover")},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "kill-primary", Check: func(r *chapters.Run, t *replicated) bool { _, ok := r.Facts["failover_ms"]; return ok }},
				{ID: "rejoin", Check: func(r *chapters.Run, t *replicated) bool { _, ok := r.LastEvent(repl.EvSetAside, ""); return ok }},
				{ID: "replay", Check: func(r *chapters.Run, t *replicated) bool {
					return r.Facts["set_aside"] > 0 && r.Facts["replayed"] == r.Facts["set_aside"]
				}},
			},
		},
		chapters.StepOf[*replicated]{
			ID:     "semi-sync",
			Owns:   []string{"lost_writes_semi_sync", "lost_while_degraded"},
			Select: "db-1",
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				return buildReplication(sys, opt, func(c *repl.ClusterConfig) { c.Mode = repl.ModeSemiSync }, "write p99", "lost writes")
			},
			Keys:     []chapters.Key{{Key: "m", Help: "replication mode", Knob: "repl.mode"}},
			Solution: chapters.Solution{Script: "8s set repl.mode async\n16s set repl.mode semi-sync\n24s kill db-1", For: 32 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "lost-semi-sync", Choices: 3, Unit: "writes", Measured: kit.FactMeasured[*replicated]("lost_writes_semi_sync"),
				Correct: func(v float64) int {
					if v == 0 {
						return 0
					}
					return 1
				}},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "write-cost", Check: func(r *chapters.Run, t *replicated) bool {
					// the price shows: a semi-sync write waits for a replica
					a, okA := r.Facts["write_p50_ms_async"]
					s, okS := r.Facts["write_p50_ms_semi_sync"]
					return okA && okS && s > a
				}},
				{ID: "lose-nothing", Check: func(r *chapters.Run, t *replicated) bool {
					v, ok := r.Facts["lost_writes_semi_sync"]
					return ok && v == 0
				}},
			},
		},
		chapters.StepOf[*replicated]{
			ID:     "wait-point",
			Owns:   []string{"phantom_reads_after_commit", "phantom_reads_after_sync", "write_p50_ms_after_commit", "write_p50_ms_after_sync"},
			Select: "db-1",
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				// semi-sync with MySQL's 10 s timeout, replicas 200 ms away;
				// reads of a user who posted in the last 2 s go to the
				// primary, and a few users post and are read all the time
				t, err := buildReplication(sys, opt, func(c *repl.ClusterConfig) {
					c.Mode, c.SemiSyncTimeout, c.LinkDelay, c.ReadYourWrites = repl.ModeSemiSync, 10*time.Second, 200*time.Millisecond, repl.RYWPrimary
				}, "phantom reads", "lost writes", "write p99")
				if err != nil {
					return nil, err
				}
				return t, sys.Load.SetZipf(1.5)
			},
			Keys: []chapters.Key{
				{Key: "v", Help: "wait point", Knob: "repl.wait-point"},
				{Key: "y", Help: "replication delay", Knob: "repl.delay"},
			},
			// replicas 1 s away for the last second before the first kill:
			// whatever the phase of their fetches, the writes of the last
			// half second are unshipped when the primary dies
			Solution: chapters.Solution{Script: "0s set repl.wait-point after-commit\n7s set repl.delay 1s\n8s kill @primary\n12s set repl.delay 200ms\n12s set repl.wait-point after-sync\n19s kill @primary", For: 23 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "phantom-read", Choices: 3, Measured: kit.FactMeasured[*replicated]("phantom_reads_after_commit"),
				Correct: func(v float64) int {
					if v > 0 {
						return 1
					}
					return 0
				}},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "phantom", Check: func(r *chapters.Run, t *replicated) bool { return r.Facts["phantom_reads_after_commit"] > 0 }},
				{ID: "no-phantom", Check: func(r *chapters.Run, t *replicated) bool {
					v, ok := r.Facts["phantom_reads_after_sync"]
					return ok && v == 0
				}},
			},
		},
		chapters.StepOf[*replicated]{
			ID:   "partition",
			Owns: []string{"split_brain_writes_min_replicas_0", "split_brain_writes_min_replicas_1"},
			Build: func(sys *engine.System, opt chapters.Options) (*replicated, error) {
				return buildReplication(sys, opt, nil, "lost writes")
			},
			Keys: []chapters.Key{
				{Key: "p", Help: "cut primary and web-1", Action: engine.ActCut, Target: "@primary,web-1"},
				{Key: "e", Help: "heal", Action: engine.ActHeal, Target: "web-1"},
				{Key: "f", Help: "min replicas", Knob: "repl.min-replicas"},
			},
			Solution: chapters.Solution{Script: "2s partition @primary,web-1\n9s heal web-1\n12s set repl.min-replicas 1\n14s partition @primary,web-1\n22s heal web-1", For: 34 * time.Second},
			Watch:    watchReplication, Lesson: replicationLesson,
			Prediction: &chapters.PredictionOf[*replicated]{ID: "two-primaries", Choices: 3, Measured: func(r *chapters.Run, t *replicated) (float64, bool) {
				v, ok := r.Facts["split_brain_writes_min_replicas_0"]
				if !ok {
					return 0, false
				}
				if v > 0 {
					return 2, true
				}
				return 1, true
			}, Correct: func(v float64) int {
				if v >= 2 {
					return 1
				}
				return 0
			}},
			Objectives: []chapters.ObjectiveOf[*replicated]{
				{ID: "split-brain", Check: func(r *chapters.Run, t *replicated) bool {
					_, healed := r.LastEvent(engine.EvHeal, "") // "… then heal (e)"
					return r.Facts["split_brain_writes_min_replicas_0"] > 0 && healed
				}},
				{ID: "fenced", Check: func(r *chapters.Run, t *replicated) bool {
					v, ok := r.Facts["split_brain_writes_min_replicas_1"]
					_, refused := r.LastEvent(repl.EvRefuse, "")
					return ok && v == 0 && refused
				}},
			},
		},
	}
}
