package session_test

import (
	"context"
	"testing"
	"time"

	"scalelab/engine"
	"scalelab/engine/internal/enginetest"
	"scalelab/engine/session"
)

// A user logs in once, browses with its cookie, and counts a lost login
// when its server forgets the session.
func TestUsersLoginBrowseAndLoseTheLogin(t *testing.T) {
	r := newRig(t, session.ModeMemory, false)
	u := session.NewUsers(r.sys.Clock, r.auth, session.UsersConfig{Users: 2, Entry: r.node.URL, Seed: 1})
	c := enginetest.Client()
	ctx := context.Background()
	fetch := func(user int) (string, string) { return u.Fetch(ctx, c, engine.OpPage, 0, user) }
	if reason, tag := fetch(0); reason != "" || tag != session.TagLogin {
		t.Fatalf("first request: %q %q, want a login", reason, tag)
	}
	if reason, tag := fetch(0); reason != "" || tag != session.TagPage {
		t.Fatalf("second request: %q %q, want a page", reason, tag)
	}
	if u.LoggedIn() != 1 {
		t.Fatalf("%d logged in", u.LoggedIn())
	}
	r.node.Kill()
	r.node.Restart()
	enginetest.Eventually(t, "web-1 back up", 5*time.Second, func() bool { return r.node.State() == engine.StateUp })
	if reason, _ := fetch(0); reason != "401" {
		t.Fatalf("a page after the server forgot the session: %q, want 401", reason)
	}
	if lost := u.LostLogins(); len(lost) != 1 || lost[0].User != "u0" || lost[0].Why != session.RefuseNoSession {
		t.Fatalf("lost logins: %+v", lost)
	}
	if reason, tag := fetch(0); reason != "" || tag != session.TagLogin {
		t.Fatalf("after a lost login the user logs in again: %q %q", reason, tag)
	}
}

// An attacker replays a logged-out user's token (accepted until expiry
// without a denylist) and forges tokens (all refused).
func TestUsersReplayAndForge(t *testing.T) {
	r := newRig(t, session.ModeJWT, false)
	u := session.NewUsers(r.sys.Clock, r.auth, session.UsersConfig{Users: 1, Entry: r.node.URL, LogoutShare: 1, ForgeShare: 0, Seed: 1})
	c := enginetest.Client()
	ctx := context.Background()
	u.Fetch(ctx, c, engine.OpPage, 0, 0) // login
	if reason, tag := u.Fetch(ctx, c, engine.OpPage, 0, 0); reason != "" || tag != session.TagLogout {
		t.Fatalf("logout: %q %q", reason, tag)
	}
	u.SetShares(0, 1, 0)
	if reason, tag := u.Fetch(ctx, c, engine.OpPage, 0, 0); reason != "" || tag != session.TagReplay {
		t.Fatalf("replay: %q %q", reason, tag)
	}
	if rp := u.Replays(); len(rp) != 1 || !rp[0].Accepted || !rp[0].Token {
		t.Fatalf("a logged-out token replayed at once should be accepted (no denylist): %+v", rp)
	}
	u.SetAttack(true)
	u.SetShares(0, 0, 1)
	for range 2 * len(session.AttackKinds()) {
		if reason, tag := u.Fetch(ctx, c, engine.OpPage, 0, 0); reason != "" || tag != session.TagForged {
			t.Fatalf("forged: %q %q", reason, tag)
		}
	}
	f := u.Forged()
	for _, k := range session.AttackKinds() {
		if f[k][0] != 2 || f[k][1] != 0 {
			t.Errorf("%s: %d refused, %d accepted; want 2 refused", k, f[k][0], f[k][1])
		}
	}
}
