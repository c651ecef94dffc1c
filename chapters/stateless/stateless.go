package stateless

import (
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/lb"
	"scalelab/engine/session"
)

// fact reports a latched fact.
func fact(r *chapters.Run, key string) (float64, bool) {
	v, ok := r.Facts[key]
	return v, ok
}

// shareOfUsers is a prediction's answer about the share of logged-in users
// a web server's death logs out: none, about a third, or all.
func shareOfUsers(v float64) int {
	switch {
	case v < 5:
		return 0
	case v < 60:
		return 1
	}
	return 2
}

var addKey = chapters.Key{Key: "a", Help: "add web server", Action: engine.ActAdd, Target: "web"}

// Stateless is chapter 7: where a login lives decides what a web server's
// death costs, and what logging out really ends.
func Stateless() *chapters.Chapter {
	return &chapters.Chapter{
		ID:        "stateless",
		Number:    7,
		Lesson:    kit.FactsLesson,
		RunTotals: []string{"lost_logins", "refreshes", "accepted_after_logout", "forged_refused", "forged_accepted"},
		Steps: []chapters.Step{
			chapters.StepOf[*lab]{
				ID:     "sticky",
				Select: "web-2",
				Build: step(tune{mode: session.ModeMemory, policy: lb.PolicySticky, ttl: "15m",
					lead: []string{"logged in", "lost logins", "share", "sessions"}}),
				Keys:     []chapters.Key{addKey},
				Solution: chapters.Solution{Script: "6s kill web-2\n17s add web", For: 28 * time.Second},
				Watch:    watch, Lesson: lesson,
				Owns: []string{"page_p50_ms_memory"},
				Prediction: &chapters.PredictionOf[*lab]{ID: "sticky-kill", Choices: 3, Unit: "%",
					Measured: kit.FactMeasured[*lab]("lost_login_pct_kill_memory"), Correct: shareOfUsers},
				Objectives: []chapters.ObjectiveOf[*lab]{
					{ID: "kill", Check: func(r *chapters.Run, _ *lab) bool {
						v, ok := fact(r, "lost_login_pct_kill_memory")
						return ok && v > 0
					}},
					{ID: "add", Check: func(r *chapters.Run, _ *lab) bool {
						_, ok := fact(r, "new_server_share_pct_"+kit.FactName(lb.PolicySticky))
						return ok
					}},
				},
			}.Step(),
			chapters.StepOf[*lab]{
				ID:     "shared-store",
				Select: "web-2",
				Build: step(tune{mode: session.ModeShared, policy: lb.PolicyRoundRobin, ttl: "15m", store: true,
					lead: []string{"logged in", "lost logins", "store p50", "store ops/s", "share"}}),
				Keys:     []chapters.Key{addKey},
				Solution: chapters.Solution{Script: "6s kill web-2\n17s add web\n28s kill store", For: 32 * time.Second},
				Watch:    watch, Lesson: lesson,
				Owns: []string{"page_p50_ms_shared"},
				Prediction: &chapters.PredictionOf[*lab]{ID: "store-dies", Choices: 3, Unit: "%",
					Measured: kit.FactMeasured[*lab]("failed_pct_store_down"), Correct: func(v float64) int {
						switch {
						case v < 5:
							return 0
						case v < 50:
							return 1
						}
						return 2
					}},
				Objectives: []chapters.ObjectiveOf[*lab]{
					{ID: "kill", Check: func(r *chapters.Run, _ *lab) bool {
						v, ok := fact(r, "lost_login_pct_kill_shared")
						return ok && v == 0
					}},
					{ID: "add", Check: func(r *chapters.Run, _ *lab) bool {
						_, ok := fact(r, "new_server_share_pct_"+kit.FactName(lb.PolicyRoundRobin))
						return ok
					}},
					{ID: "store-dies", Check: func(r *chapters.Run, _ *lab) bool {
						v, ok := fact(r, "failed_pct_store_down")
						return ok && v > 50
					}},
				},
			}.Step(),
			chapters.StepOf[*lab]{
				ID:     "jwt",
				Select: "web-2",
				Build: step(tune{mode: session.ModeJWT, policy: lb.PolicyRoundRobin, ttl: "15m", store: true,
					knobs: []string{"auth.ttl", "auth.denylist", "auth.rotation"},
					lead:  []string{"logged in", "lost logins", "accepted after logout", "replays refused", "denylist lookups/page", "refreshes/s", "verify p50"}}),
				Keys: []chapters.Key{
					{Key: "t", Help: "access token life", Knob: "auth.ttl"},
					{Key: "d", Help: "denylist", Knob: "auth.denylist"},
					{Key: "o", Help: "refresh rotation", Knob: "auth.rotation"},
				},
				// a 10 s token, so the window after logout closes within the run
				Solution: chapters.Solution{Script: "0s set auth.ttl 10s\n6s kill web-2\n18s set auth.denylist on", For: 40 * time.Second},
				Watch:    watch, Lesson: lesson,
				Owns: []string{"page_p50_ms_jwt", "verify_us_p50"},
				Prediction: &chapters.PredictionOf[*lab]{ID: "replay", Choices: 3, Unit: "s",
					Measured: kit.FactMeasured[*lab]("revocation_window_s"), Correct: func(v float64) int {
						if v == 0 {
							return 0
						}
						return 1
					}},
				Objectives: []chapters.ObjectiveOf[*lab]{
					{ID: "kill", Check: func(r *chapters.Run, _ *lab) bool {
						v, ok := fact(r, "lost_login_pct_kill_jwt")
						return ok && v == 0
					}},
					{ID: "replayed", Check: func(r *chapters.Run, _ *lab) bool { return r.Facts["accepted_after_logout"] > 0 }},
					{ID: "denylist", Check: func(r *chapters.Run, _ *lab) bool {
						v, ok := fact(r, "accepted_after_logout_denylist")
						return ok && v == 0
					}},
				},
			}.Step(),
			chapters.StepOf[*lab]{
				ID: "forged",
				Build: step(tune{mode: session.ModeJWT, policy: lb.PolicyRoundRobin, ttl: "15m", store: true, alg: session.AlgEdDSA,
					knobs: []string{"auth.attack"},
					lead:  []string{"forged refused", "forged accepted", "verify p50", "logged in"}}),
				Keys:     []chapters.Key{{Key: "k", Help: "attacker", Knob: "auth.attack"}},
				Solution: chapters.Solution{Script: "2s set auth.attack on", For: 12 * time.Second},
				Watch:    watch, Lesson: lesson,
				Prediction: &chapters.PredictionOf[*lab]{ID: "forged", Choices: 3,
					Measured: kit.FactMeasured[*lab]("forged_accepted"), Correct: func(v float64) int {
						if v == 0 {
							return 0
						}
						return 2
					}},
				Objectives: []chapters.ObjectiveOf[*lab]{
					{ID: "signature", Check: refusedAll(session.ForgeEdited, session.ForgeWrongKey)},
					{ID: "alg-none", Check: refusedAll(session.ForgeAlgNone)},
					{ID: "expired", Check: refusedAll(session.ForgeExpired)},
					{ID: "guessed", Check: refusedAll(session.ForgeGuessedSID)},
				},
			}.Step(),
		},
	}
}

// refusedAll is met when at least 10 of each kind were refused and no
// forgery at all was accepted.
func refusedAll(kinds ...string) func(r *chapters.Run, _ *lab) bool {
	return func(r *chapters.Run, _ *lab) bool {
		if v, ok := fact(r, "forged_accepted"); !ok || v != 0 {
			return false
		}
		for _, k := range kinds {
			if r.Facts["forged_refused_"+kit.FactName(k)] < 10 {
				return false
			}
		}
		return true
	}
}
