package stateless

import (
	"testing"

	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/lb"
	"scalelab/engine/session"
)

// Sessions in memory behind a sticky LB: one of three servers dies and
// about a third of the logged-in users are logged out; a server added
// later gets only new logins.
func TestStickyMemorySessionsLoseAThirdAndANewServerStaysIdle(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Stateless(), 1, chapters.Options{Speed: 2})
	lost := chaptertest.Fact(t, rep, "lost_login_pct_kill_memory")
	share := chaptertest.Fact(t, rep, "new_server_share_pct_"+kit.FactName(lb.PolicySticky))
	t.Logf("web-2 died: %.1f%% of logged-in users lost their login (%v users); the added server took %.1f%% of requests in its first 10 s (fair share %.1f%%)",
		lost, rep.Lesson["lost_logins_kill_memory"], share, chaptertest.Fact(t, rep, "fair_share_pct"))
	if lost < 20 || lost > 45 {
		t.Errorf("one of three servers with sessions in memory: about a third of logged-in users should lose their login, got %.1f%%", lost)
	}
	if share > 10 {
		t.Errorf("under sticky sessions a new server gets only new logins: %.1f%% of requests in its first 10 s, want under 10%%", share)
	}
}

// Sessions in a shared store, round robin: a web server's death logs
// nobody out and a new server takes its share at once; the store's death
// fails the requests that need it.
func TestSharedStoreKeepsLoginsAndIsASinglePointOfFailure(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Stateless(), 2, chapters.Options{Speed: 2})
	share := chaptertest.Fact(t, rep, "new_server_share_pct_"+kit.FactName(lb.PolicyRoundRobin))
	t.Logf("web-2 died: %.1f%% logged out; the added server took %.1f%% at once; store p50 %.2f ms; %.1f%% failed with the store down",
		chaptertest.Fact(t, rep, "lost_login_pct_kill_shared"), share, chaptertest.Fact(t, rep, "store_p50_ms"), chaptertest.Fact(t, rep, "failed_pct_store_down"))
	if v := chaptertest.Fact(t, rep, "lost_login_pct_kill_shared"); v != 0 {
		t.Errorf("with sessions in a shared store a web server's death should log nobody out: %.1f%%", v)
	}
	if share < 18 {
		t.Errorf("round robin gives a new server its share (1 in 3 with one of three dead) at once: %.1f%%", share)
	}
	if p := chaptertest.Fact(t, rep, "store_p50_ms"); p <= 0 || p > 5 {
		t.Errorf("a store round trip on loopback: p50 %.2f ms", p)
	}
	if v := chaptertest.Fact(t, rep, "failed_pct_store_down"); v < 90 {
		t.Errorf("with the session store down requests that need a session should fail: %.1f%%", v)
	}
}

// JWTs: a web server's death logs nobody out; a token replayed after its
// user logged out is accepted until it expires, and never with a denylist.
func TestJWTSurvivesAKillAndLogoutNeedsADenylist(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Stateless(), 3, chapters.Options{Speed: 2})
	t.Logf("web-2 died: %.1f%% logged out; %v replays accepted after logout, window %.1f s; with the denylist %v accepted of %v; denylist lookups per page %.2f off, %.2f on; %.1f refreshes/s at 10 s; verify p50 %.1f µs",
		chaptertest.Fact(t, rep, "lost_login_pct_kill_jwt"), chaptertest.Fact(t, rep, "accepted_after_logout"), chaptertest.Fact(t, rep, "revocation_window_s"),
		chaptertest.Fact(t, rep, "accepted_after_logout_denylist"), rep.Lesson["n_replays_denylist"],
		chaptertest.Fact(t, rep, "denylist_lookups_per_page_off"), chaptertest.Fact(t, rep, "denylist_lookups_per_page_on"),
		chaptertest.Fact(t, rep, "refreshes_per_s_10s"), chaptertest.Fact(t, rep, "verify_us_p50"))
	if v := chaptertest.Fact(t, rep, "lost_login_pct_kill_jwt"); v != 0 {
		t.Errorf("with JWTs a web server's death should log nobody out: %.1f%%", v)
	}
	if w := chaptertest.Fact(t, rep, "revocation_window_s"); w <= 0 || w > 10 {
		t.Errorf("a logged-out 10 s token should be accepted until it expires and no longer: window %.1f s", w)
	}
	if v := chaptertest.Fact(t, rep, "accepted_after_logout_denylist"); v != 0 {
		t.Errorf("with the denylist on, %v replays were accepted after logout", v)
	}
	off, on := chaptertest.Fact(t, rep, "denylist_lookups_per_page_off"), chaptertest.Fact(t, rep, "denylist_lookups_per_page_on")
	if on < 0.95 || off != 0 {
		t.Errorf("the denylist costs a store lookup per request: %.2f per page without it, %.2f with it", off, on)
	}
	if chaptertest.Fact(t, rep, "refreshes_per_s_10s") <= 0 {
		t.Errorf("10 s tokens should be refreshed")
	}
}

// Forged tokens and guessed session ids are all refused.
func TestForgedTokensAreRefused(t *testing.T) {
	rep := chaptertest.PlaySolution(t, Stateless(), 4, chapters.Options{Speed: 2})
	for _, k := range session.AttackKinds() {
		t.Logf("%s: %v refused", k, rep.Lesson["forged_refused_"+kit.FactName(k)])
	}
	if v := chaptertest.Fact(t, rep, "forged_accepted"); v != 0 {
		t.Errorf("%v forged credentials were accepted", v)
	}
}

func TestFactsHaveLabels(t *testing.T) {
	var extra []string
	for _, m := range session.Modes() {
		extra = append(extra, "lost_login_pct_kill_"+m, "lost_logins_kill_"+m, "page_p50_ms_"+m)
	}
	for _, p := range lb.PolicyNames() {
		extra = append(extra, "new_server_share_pct_"+kit.FactName(p))
	}
	for _, ttl := range accessTTLs {
		extra = append(extra, "refreshes_per_s_"+ttl)
	}
	for _, k := range session.AttackKinds() {
		extra = append(extra, "forged_refused_"+kit.FactName(k))
	}
	extra = append(extra, "denylist_lookups_per_page_off", "denylist_lookups_per_page_on")
	chaptertest.CheckFactLabels(t, extra...)
}
