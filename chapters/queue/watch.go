// What the queue chapter measures: gauges, the depth chart, and the facts
// it latches on every snapshot.

package queue

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	mq "scalelab/engine/queue"
)

// watchState is what the watch keeps between snapshots.
type watchState struct {
	mu         sync.Mutex // the gauges read it from the snapshot goroutine
	spikes     []*spike
	seenAct    int
	seenEv     int
	drain      float64 // the latest drain time, -1 before one
	prevDup    int64
	prevDouble int64
	kills      []time.Duration // worker kills
	killIdem   string          // queue.idempotent at the latest kill
	heldAt     time.Duration   // the first kill that left messages pending, -1 before
	redeliver  time.Duration   // the first redelivery after the first kill, -1 before
	anaDown    time.Duration   // analytics' latest kill, -1 before
	anaUp      time.Duration   // its restart after that kill, -1 before
	recJoin    time.Duration   // when recommendations joined, -1 before
	reset      time.Duration   // its latest replay, -1 before
}

// spike is one spike of load and what the queue did with it.
type spike struct {
	at, until time.Duration
	mode      string
	workers   string
	latched   bool // its requests' figures
	drained   bool
	maxDepth  int64
}

func (w *watchState) init() {
	w.drain, w.redeliver, w.anaDown, w.anaUp, w.recJoin, w.reset, w.heldAt = -1, -1, -1, -1, -1, -1, -1
}

// queueNow is the work queue's state: its counters, how many messages
// wait unread, and how many are in workers' hands.
func (l *lab) queueNow() (st mq.WorkStats, waiting, inHand int64) {
	ctx := context.Background()
	st = l.q.Stats(ctx)
	var pending int64
	for _, n := range l.q.Pending(ctx) {
		pending += n
	}
	for _, w := range l.q.Workers() {
		inHand += w.InHand()
	}
	return st, max(st.Depth-pending, 0), inHand
}

func (l *lab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	var out []engine.Gauge
	if _, q := l.sys.Load.OpRecent(engine.OpWrite); q.N > 0 {
		out = append(out, kit.MsGauge("orders p50", q.P50))
	} else {
		out = append(out, engine.Gauge{Name: "orders p50", Unit: "ms", None: true})
	}
	if l.q != nil {
		st, waiting, inHand := l.queueNow()
		l.depth.set(now, float64(st.Depth))
		up := 0
		for _, w := range l.q.Workers() {
			if w.State() == engine.StateUp {
				up++
			}
		}
		l.w.mu.Lock()
		drain := l.w.drain
		l.w.mu.Unlock()
		out = append(out,
			engine.Gauge{Name: "depth", Value: float64(st.Depth)},
			engine.Gauge{Name: "waiting", Value: float64(waiting)},
			engine.Gauge{Name: "in hand", Value: float64(inHand)},
			engine.Gauge{Name: "max depth", Value: float64(l.spikeMax(st.MaxDepth))},
			engine.Gauge{Name: "workers up", Value: float64(up)})
		if drain >= 0 {
			out = append(out, engine.Gauge{Name: "drain", Value: drain, Unit: "s"})
		}
		out = append(out,
			engine.Gauge{Name: "redelivered", Value: float64(st.Redelivered)},
			engine.Gauge{Name: "duplicates", Value: float64(st.Duplicates)},
			engine.Gauge{Name: "double effects", Value: float64(st.DoubleEffects)},
			engine.Gauge{Name: "dead letters", Value: float64(st.DeadLettered)},
			engine.Gauge{Name: "lost", Value: float64(st.Lost)})
	}
	if l.log != nil {
		var most, others int64
		for _, g := range l.log.Groups() {
			st := g.State()
			most = max(most, st.Lag)
			if st.Name != "analytics" && st.Name != recommendations.Name {
				others = max(others, st.Lag)
			}
			out = append(out, engine.Gauge{Name: st.Name + " lag", Value: float64(st.Lag)})
			if st.Name == recommendations.Name && st.Missed > 0 {
				out = append(out, engine.Gauge{Name: "replay missed", Value: float64(st.Missed)})
			}
		}
		if l.log.Group("analytics") != nil {
			out = append(out, engine.Gauge{Name: "others' lag", Value: float64(others)})
		}
		l.depth.set(now, float64(most))
		kept, _ := l.log.Kept()
		out = append(out, engine.Gauge{Name: "events kept", Value: float64(kept)})
		if g := l.log.Group("shipping"); g != nil && l.tn.events[0] == "created" {
			st := g.State()
			k := l.log.Partitions()
			if n := st.Events[k]; n > 0 {
				out = append(out, engine.Gauge{Name: "out of order", Value: chapters.Round1(100 * float64(st.OutOfOrder[k]) / float64(n)), Unit: "%"})
			}
		}
	}
	return kit.LeadGauges(out, l.lead...)
}

// spikeMax is the latest spike's deepest queue, or all the run's before a
// spike.
func (l *lab) spikeMax(run int64) int64 {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	if n := len(l.w.spikes); n > 0 {
		return l.w.spikes[n-1].maxDepth
	}
	return run
}

// chart is the depth chart: the work queue's depth, or the event log's
// largest lag, each lab second.
func (l *lab) chart() engine.Chart {
	if l.q != nil {
		return l.depth.chart("queue depth", "")
	}
	return l.depth.chart("largest lag", "")
}

// watch latches the chapter's figures on every snapshot.
func watch(r *chapters.Run, l *lab) {
	if l.q != nil {
		st, waiting, _ := l.queueNow()
		r.Facts["lost"] = float64(st.Lost)
		l.watchSpikes(r, st, waiting)
		l.watchKills(r, st)
	}
	if l.log != nil {
		l.watchLog(r)
	}
}

// knobAt is a knob's value at t, or the step's setting when the step has
// no such knob.
func (l *lab) knobAt(r *chapters.Run, name string, t time.Duration, def string) string {
	if v := r.KnobAt(name, t); v != "" {
		return v
	}
	return def
}

// watchSpikes measures each spike: the orders sent during it (failed,
// p50), and for a queued spike the queue's deepest point and the time it
// took after the spike to have nothing waiting.
func (l *lab) watchSpikes(r *chapters.Run, st mq.WorkStats, waiting int64) {
	w := &l.w
	now := r.Now()
	for ; w.seenAct < len(r.Actions); w.seenAct++ {
		a := r.Actions[w.seenAct]
		if a.Action.Kind == engine.ActSpike && a.Err == nil {
			s := &spike{at: a.T, until: a.T + a.Action.Dur,
				mode:    l.knobAt(r, "queue.mode", a.T, l.tn.mode),
				workers: l.knobAt(r, "queue.workers", a.T, strconv.Itoa(l.tn.workers))}
			w.mu.Lock()
			w.spikes = append(w.spikes, s)
			w.mu.Unlock()
		}
	}
	for _, s := range w.spikes {
		if now >= s.at && !s.drained {
			w.mu.Lock()
			s.maxDepth = max(s.maxDepth, st.Depth)
			w.mu.Unlock()
		}
		// the spike's orders are all done 3 s after it (the clients wait 2 s)
		if !s.latched && now >= s.until+3*time.Second {
			s.latched = true
			ok, failed, p50 := l.book.span(kit.SecOf(s.at), kit.SecOf(s.until))
			bok, _, bp50 := l.book.span(kit.SecOf(s.at)-3, kit.SecOf(s.at))
			if ok+failed > 0 {
				r.Facts["spike_failed_pct_"+s.mode] = chapters.Round1(100 * float64(failed) / float64(ok+failed))
				r.Facts["spike_orders_"+s.mode] = float64(ok + failed)
			}
			if ok > 0 {
				r.Facts["spike_p50_ms_"+s.mode] = chapters.Round1(engine.Ms(p50))
			}
			if bok > 0 {
				r.Facts["before_p50_ms_"+s.mode] = chapters.Round1(engine.Ms(bp50))
			}
		}
		if s.mode == mq.ModeQueued && !s.drained && now >= s.until && waiting == 0 {
			s.drained = true
			d := chapters.Round1((now - s.until).Seconds())
			drainW, depthW := "drain_s_w"+s.workers, "max_depth_w"+s.workers // drain_s_w2, max_depth_w2
			r.Facts[drainW] = d
			r.Facts["spike_drain_s"] = d
			r.Facts[depthW] = float64(s.maxDepth)
			r.Facts["max_depth"] = float64(s.maxDepth)
			w.mu.Lock()
			w.drain = d
			w.mu.Unlock()
		}
	}
}

// watchKills counts worker kills, when their messages came back, and
// which duplicates happened with idempotent handling off and on.
func (l *lab) watchKills(r *chapters.Run, st mq.WorkStats) {
	w := &l.w
	for ; w.seenEv < len(r.Events); w.seenEv++ {
		e := r.Events[w.seenEv]
		switch {
		case e.Kind == engine.EvKill && strings.HasPrefix(e.Node, "worker-"):
			w.kills = append(w.kills, e.T)
			w.killIdem = l.knobAt(r, "queue.idempotent", e.T, onOff(l.tn.idem))
			// what the dead worker held stays pending under its name
			if w.heldAt < 0 && l.q.Pending(context.Background())[e.Node] > 0 {
				w.heldAt = e.T
			}
		case e.Kind == mq.EvRedeliver && w.heldAt >= 0 && w.redeliver < 0:
			// the first kill that left messages in the broker, and the
			// reaper's first hand-over after it
			w.redeliver = e.T
			r.Facts["redelivery_after_s"] = chapters.Round1((e.T - w.heldAt).Seconds())
		}
	}
	// duplicates come from redeliveries after a kill: they count under
	// the setting the latest kill was made with (a kill made with
	// idempotent handling off doubles effects even after it is turned on)
	if len(w.kills) > 0 {
		idem := w.killIdem
		r.Facts["duplicates_idem_"+idem] += float64(st.Duplicates - w.prevDup)
		r.Facts["double_effects_idem_"+idem] += float64(st.DoubleEffects - w.prevDouble)
	}
	w.prevDup, w.prevDouble = st.Duplicates, st.DoubleEffects
	if len(w.kills) > 0 {
		r.Facts["worker_kills"] = float64(len(w.kills))
		r.Facts["redelivered"] = float64(st.Redelivered)
	}
	r.Facts["dead_lettered"] = float64(st.DeadLettered)
}

// watchLog measures the event log: a killed service's lag against the
// others', its catch-up, and a late or reset service's replay.
func (l *lab) watchLog(r *chapters.Run) {
	w := &l.w
	now := r.Now()
	for ; w.seenEv < len(r.Events); w.seenEv++ {
		e := r.Events[w.seenEv]
		switch {
		case e.Kind == engine.EvKill && e.Node == "analytics":
			w.anaDown, w.anaUp = e.T, -1
		case e.Kind == engine.EvUp && e.Node == "analytics" && w.anaDown >= 0:
			w.anaUp = e.T
		case e.Kind == mq.EvReplay && e.Node == recommendations.Name:
			w.reset = e.T
		}
	}
	ana, pay, rec := l.log.Group("analytics"), l.log.Group("payments"), l.log.Group(recommendations.Name)
	if ana != nil && w.anaDown >= 0 {
		st := ana.State()
		if w.anaUp < 0 {
			r.Facts["analytics_lag_max"] = max(r.Facts["analytics_lag_max"], float64(st.Lag))
			for _, g := range l.log.Groups() {
				if g != ana && g != rec {
					r.Facts["others_lag_max"] = max(r.Facts["others_lag_max"], float64(g.State().Lag))
				}
			}
			r.Facts["analytics_down_s"] = chapters.Round1((now - w.anaDown).Seconds())
		} else if _, done := r.Facts["catch_up_s"]; !done && st.Lag == 0 && now-w.anaUp >= time.Second {
			r.Facts["catch_up_s"] = chapters.Round1((now - w.anaUp).Seconds())
			gaps, dups := ana.Gaps(context.Background())
			r.Facts["analytics_gaps"] = float64(gaps)
			r.Facts["analytics_dups"] = float64(dups)
		}
	}
	if rec != nil && pay != nil {
		if w.recJoin < 0 {
			w.recJoin = now
		}
		st := rec.State()
		if st.Lag == 0 && now-w.recJoin >= time.Second {
			n, same := rec.Matches(pay)
			if w.reset < 0 {
				r.Facts["replayed_on_join"] = float64(st.Replayed)
				r.Facts["replay_compared"] = float64(n)
				r.Facts["replay_matches"] = b2f(same && n > 0)
			} else if now-w.reset >= time.Second {
				kept, _ := l.log.Kept()
				r.Facts["replayed_after_reset"] = float64(st.Replayed)
				r.Facts["replay_missed"] = float64(st.Missed)
				r.Facts["kept_at_reset"] = float64(kept)
				r.Facts["reset_matches"] = b2f(same && n > 0)
			}
		}
	}
	if ship := l.log.Group("shipping"); ship != nil && l.tn.events[0] == "created" {
		st := ship.State()
		for _, k := range []int{1, 4} {
			// latched once, over the first 300 events of each setting
			if _, done := fact(r, "events_p"+strconv.Itoa(k)); done {
				continue
			}
			if n := st.Events[k]; n >= 300 {
				// events_p1, out_of_order_p1, out_of_order_pct_p1
				ev, ooo, pct := "events_p"+strconv.Itoa(k), "out_of_order_p"+strconv.Itoa(k), "out_of_order_pct_p"+strconv.Itoa(k)
				r.Facts[ev] = float64(n)
				r.Facts[ooo] = float64(st.OutOfOrder[k])
				r.Facts[pct] = chapters.Round1(100 * float64(st.OutOfOrder[k]) / float64(n))
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
