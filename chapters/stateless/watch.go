// What the stateless chapter measures: gauges, and the facts it latches on
// every snapshot.

package stateless

import (
	"context"
	"math"
	"strings"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/session"
)

// counts are the counters the rings keep: store round trips, refreshes,
// page requests and denylist lookups.
func (l *lab) counts() []float64 {
	st := l.auth.Stats()
	ok, bad, _ := l.users.Latency.Totals(session.TagPage)
	return []float64{float64(st.StoreOps), float64(st.Refreshes), float64(ok + bad), float64(st.DenylistChecks)}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func (l *lab) gauges() []engine.Gauge {
	now := l.sys.Clock.Now()
	l.gauge.Add(now, l.counts()...)
	mode := l.auth.Mode()
	out := []engine.Gauge{
		{Name: "logged in", Value: float64(l.users.LoggedIn())},
		{Name: "lost logins", Value: float64(len(l.users.LostLogins()))},
	}
	if _, q := l.users.Latency.Recent(session.TagPage); q.N > 0 {
		out = append(out, kit.MsGauge("page p50", q.P50))
	}
	// each web server's share of the requests, and its sessions in memory
	served := l.served()
	var total float64
	deltas := map[string]float64{}
	for name, n := range served {
		r := l.shareRing(name)
		r.Add(now, float64(n))
		if dv, _, ok := r.Delta(5 * time.Second); ok {
			deltas[name] = dv[0]
			total += dv[0]
		}
	}
	for _, w := range l.webNodes() {
		if mode == session.ModeMemory {
			out = append(out, engine.Gauge{Name: w.Name() + " sessions", Value: float64(w.Sessions())})
		}
		// with sessions in memory the question is what an added server
		// gets; the others' shares would crowd the rows out
		_, added := l.addedAt(w.Name())
		if d, ok := deltas[w.Name()]; ok && total > 0 && (mode != session.ModeMemory || added) {
			out = append(out, engine.Gauge{Name: w.Name() + " share", Value: chapters.Round1(100 * d / total), Unit: "%"})
		}
	}
	if dv, span, ok := l.gauge.Delta(5 * time.Second); ok && l.store != nil {
		out = append(out, engine.Gauge{Name: "store ops/s", Value: chapters.Round1(kit.PerSec(dv[0], span))})
		if mode == session.ModeJWT {
			if dv[2] > 0 {
				out = append(out, engine.Gauge{Name: "denylist lookups/page", Value: round2(dv[3] / dv[2])})
			}
			out = append(out, engine.Gauge{Name: "refreshes/s", Value: chapters.Round1(kit.PerSec(dv[1], span))})
		}
	}
	if l.store != nil {
		if _, q := l.auth.StoreRecent(); q.N > 0 {
			out = append(out, engine.Gauge{Name: "store p50", Value: round2(engine.Ms(q.P50)), Unit: "ms"})
		}
	}
	if mode == session.ModeJWT {
		if d, n := l.auth.VerifyP50(); n > 0 {
			out = append(out, engine.Gauge{Name: "verify p50", Value: chapters.Round1(float64(d) / 1e3), Unit: "µs"})
		}
		acc, ref := 0, 0
		for _, r := range l.users.Replays() {
			if r.Accepted {
				acc++
			} else {
				ref++
			}
		}
		out = append(out, engine.Gauge{Name: "accepted after logout", Value: float64(acc)}, engine.Gauge{Name: "replays refused", Value: float64(ref)})
	}
	if f := l.users.Forged(); len(f) > 0 || l.users.Attack() {
		var refused, accepted int64
		for _, v := range f {
			refused += v[0]
			accepted += v[1]
		}
		out = append(out, engine.Gauge{Name: "forged refused", Value: float64(refused)}, engine.Gauge{Name: "forged accepted", Value: float64(accepted)})
	}
	return kit.LeadGauges(out, l.lead...)
}

// addedAt tells when a web server was added by the learner.
func (l *lab) addedAt(name string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.added[name]
	return a.at, ok
}

func (l *lab) shareRing(name string) *kit.Ring {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.shareRings[name]
	if r == nil {
		r = kit.NewRing(20 * time.Second)
		l.shareRings[name] = r
	}
	return r
}

// isWeb reports whether a node is one of the web servers.
func (l *lab) isWeb(name string) bool {
	for _, w := range l.webNodes() {
		if w.Name() == name {
			return true
		}
	}
	return false
}

// lostWindow is how long after a web server's death its users' lost logins
// are counted: every logged-in user makes a request well within it.
const lostWindow = 10 * time.Second

// watch latches the chapter's figures on every snapshot.
func watch(r *chapters.Run, l *lab) {
	now := r.Now()
	l.watch.Add(now, l.counts()...)
	mode := l.auth.Mode()
	in := l.users.LoggedIn()
	l.loggedIn = append(l.loggedIn, sample{now, in})
	lost := l.users.LostLogins()
	r.Facts["lost_logins"] = float64(len(lost))

	// a web server's death: the share of logged-in users it logged out
	for _, k := range r.EventsOf(engine.EvKill) {
		key := "lost_login_pct_kill_" + mode
		if _, done := r.Facts[key]; done || !l.isWeb(k.Node) || now < k.T+lostWindow {
			continue
		}
		before := 0
		for _, s := range l.loggedIn {
			if s.t <= k.T {
				before = s.n
			}
		}
		users := map[string]bool{}
		for _, x := range lost {
			if x.T >= k.T && x.T < k.T+lostWindow {
				users[x.User] = true
			}
		}
		if before > 0 {
			r.Facts[key] = chapters.Round1(100 * float64(len(users)) / float64(before))
			r.Facts["lost_logins_kill_"+mode] = float64(len(users))
		}
	}

	// a web server added: its share of the requests over its first 10 s
	l.mu.Lock()
	added := make(map[string]addition, len(l.added))
	for k, v := range l.added {
		added[k] = v
	}
	l.mu.Unlock()
	for name, a := range added {
		key := "new_server_share_pct_" + kit.FactName(a.policy)
		if _, done := r.Facts[key]; done || now < a.at+10*time.Second {
			continue
		}
		cur := l.served()
		var total float64
		for n, v := range cur {
			total += float64(v - a.base[n])
		}
		if total > 0 {
			r.Facts[key] = chapters.Round1(100 * float64(cur[name]) / total)
			r.Facts["fair_share_pct"] = chapters.Round1(100 / float64(len(cur)))
		}
	}

	if d, n := l.auth.StoreP50(); n >= 50 {
		r.Facts["store_p50_ms"] = round2(engine.Ms(d))
	}
	if d, n := l.auth.VerifyP50(); n >= 50 {
		r.Facts["verify_us_p50"] = chapters.Round1(float64(d) / 1e3)
	}
	allUp := true
	for _, n := range r.Latest.Nodes {
		allUp = allUp && n.State == engine.StateUp
	}
	if _, q := l.users.Latency.Recent(session.TagPage + "/" + mode); allUp && now >= 8*time.Second && q.N >= 50 {
		r.Facts["page_p50_ms_"+mode] = round2(engine.Ms(q.P50))
	}

	// the session store down: the requests that fail while it is
	if l.store != nil && l.store.State() != engine.StateUp {
		if k, ok := r.LastEvent(engine.EvKill, l.store.Name()); ok && now-k.T > time.Second {
			t := l.sys.Load.Totals()
			if l.storeDownBase == nil {
				l.storeDownBase = &[2]int64{t.OK, t.Failed}
			}
			okN, bad := t.OK-l.storeDownBase[0], t.Failed-l.storeDownBase[1]
			if okN+bad >= 100 {
				r.Facts["failed_pct_store_down"] = chapters.Round1(100 * float64(bad) / float64(okN+bad))
			}
		}
	}

	watchTokens(r, l, now, mode)
}

// watchTokens latches what tokens cost and what they let through.
func watchTokens(r *chapters.Run, l *lab, now time.Duration, mode string) {
	st := l.auth.Stats()
	r.Facts["refreshes"] = float64(st.Refreshes)
	if mode == session.ModeJWT {
		if ttl := r.KnobAt("auth.ttl", now); ttl != "" && r.Held(15*time.Second, "auth.ttl", ttl) {
			if dv, span, ok := l.watch.Delta(5 * time.Second); ok {
				r.Facts["refreshes_per_s_"+ttl] = chapters.Round1(kit.PerSec(dv[1], span))
			}
		}
		if dl := r.KnobAt("auth.denylist", now); r.Held(kit.Settle, "auth.denylist", dl) {
			if dv, _, ok := l.watch.Delta(5 * time.Second); ok && dv[2] >= 50 {
				r.Facts["denylist_lookups_per_page_"+dl] = round2(dv[3] / dv[2])
			}
		}
	}
	// replays of a credential its user logged out of
	replays := l.users.Replays()
	var acc, accDeny, nDeny float64
	window := -1.0
	// the window is measured for tokens of the life in force now: a token
	// issued before a shorter life was set keeps its own
	life, _ := time.ParseDuration(r.KnobAt("auth.ttl", now))
	if life == 0 {
		life = l.auth.AccessTTL()
	}
	for _, rp := range replays {
		deny := r.KnobAt("auth.denylist", rp.LoggedOut) == "on" && rp.LoggedOut-r.KnobTime("auth.denylist", "on") >= time.Second
		if deny {
			nDeny++
		}
		if !rp.Accepted {
			continue
		}
		acc++
		if deny {
			accDeny++
		}
		if rp.Life == life {
			window = max(window, (rp.T - rp.LoggedOut).Seconds())
		}
	}
	if len(replays) > 0 {
		r.Facts["accepted_after_logout"] = acc
	}
	if window >= 0 {
		r.Facts["revocation_window_s"] = chapters.Round1(window)
	}
	if nDeny >= 20 {
		r.Facts["n_replays_denylist"] = nDeny
		r.Facts["accepted_after_logout_denylist"] = accDeny
	}
	// forged credentials
	if f := l.users.Forged(); len(f) > 0 {
		var refused, accepted float64
		for kind, v := range f {
			refused += float64(v[0])
			accepted += float64(v[1])
			r.Facts["forged_refused_"+kit.FactName(kind)] = float64(v[0])
		}
		r.Facts["forged_refused"] = refused
		r.Facts["forged_accepted"] = accepted
	}
}

// lesson is the report's lesson: the facts, and where sessions are.
func lesson(r *chapters.Run, l *lab) map[string]any {
	out := kit.FactsLesson(r)
	by := map[string]any{}
	if l.auth.Mode() == session.ModeMemory {
		for _, w := range l.webNodes() {
			by[w.Name()] = w.Sessions()
		}
	} else if l.store != nil && l.store.State() == engine.StateUp {
		n := 0
		keys, _ := l.store.Keys(context.Background())
		for _, k := range keys {
			if strings.HasPrefix(k, "sess:") || strings.HasPrefix(k, "refresh:") {
				n++
			}
		}
		by[l.store.Name()] = n
	}
	out["sessions_by_server"] = by
	return out
}
