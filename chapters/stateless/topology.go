// The stateless chapter's topology: a load balancer, web servers that log
// users in, a Redis session store, the users, and adding web servers.

package stateless

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine"
	"scalelab/engine/kv"
	"scalelab/engine/lb"
	"scalelab/engine/session"
	"scalelab/engine/web"
)

// The chapter's load: 150 req/s from 600 users, each logged in most of
// the time.
const (
	statelessRate  = 150
	statelessUsers = 600
	webWork        = 2 * time.Millisecond
)

// lab is one step's topology.
type lab struct {
	sys   *engine.System
	lb    *lb.LB
	store *kv.KVNode // nil in the memory step
	auth  *session.Auth
	users *session.Users
	lead  []string

	mu    sync.Mutex
	webs  []*session.Node
	added map[string]addition // web servers added, by name

	gauge, watch  *kit.Ring
	loggedIn      []sample // logged-in users by snapshot, for the share a kill logs out
	shareRings    map[string]*kit.Ring
	storeDownBase *[2]int64 // load totals a second after the store died
}

type addition struct {
	at     time.Duration
	policy string
	base   map[string]int64 // each server's requests served when it was added
}

type sample struct {
	t time.Duration
	n int
}

// tune is what differs between steps.
type tune struct {
	mode, policy, alg string
	store             bool
	ttl               string
	attack            bool
	knobs             []string
	lead              []string
}

func build(sys *engine.System, opt chapters.Options, tn tune) (*lab, error) {
	l := &lab{sys: sys, lead: tn.lead, added: map[string]addition{}, gauge: kit.NewRing(20 * time.Second), watch: kit.NewRing(30 * time.Second),
		shareRings: map[string]*kit.Ring{}}
	if tn.store {
		st, err := kv.NewKVNode(sys, "store")
		if err != nil {
			return nil, err
		}
		if err := sys.AddNode(st); err != nil {
			return nil, err
		}
		l.store = st
		st.Describe(func() engine.Text {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			n, _ := st.DBSize(ctx)
			return engine.Textf("session.store.detail", "redis · sessions, refresh tokens, denylist · %d keys", n)
		}, nil)
	}
	ttl, err := time.ParseDuration(tn.ttl)
	if err != nil {
		return nil, err
	}
	l.auth, err = session.NewAuth(sys, session.AuthConfig{Mode: tn.mode, Alg: tn.alg, Store: l.store, AccessTTL: ttl, Rotate: true})
	if err != nil {
		return nil, err
	}
	cfg := lb.DefaultLBConfig("lb-1")
	cfg.Policy, cfg.Seed = tn.policy, opt.Seed
	l.lb, err = lb.NewLB(cfg, sys)
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(l.lb); err != nil {
		return nil, err
	}
	for range 3 {
		if _, err := l.addWeb(); err != nil {
			return nil, err
		}
	}
	l.elastic()
	l.users = session.NewUsers(sys.Clock, l.auth, session.UsersConfig{Users: statelessUsers, Entry: l.lb.URL,
		LogoutShare: 0.02, ReplayShare: 0.04, ForgeShare: 0.2, Seed: opt.Seed})
	l.users.SetAttack(tn.attack)
	l.knobs(tn)
	sys.AddGauges(l.gauges)

	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Seed, lc.Mix = statelessRate, opt.Seed, engine.Mix{engine.OpPage: 1}
	if opt.Rate > 0 {
		lc.Rate = opt.Rate
	}
	lc.Users = statelessUsers
	lc.Fetch, lc.Observe = l.users.Fetch, l.users.Observe
	ld, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// addWeb adds a private web server with logins to the target group.
func (l *lab) addWeb() (*session.Node, error) {
	name := l.sys.NextName("web")
	link := l.sys.AddLink(l.lb.Name(), name)
	n, err := session.NewNode(l.sys, session.NodeConfig{Name: name, Size: "large", Work: webWork, Private: true, Auth: l.auth})
	if err != nil {
		return nil, err
	}
	if err := l.sys.AddNode(n); err != nil {
		return nil, err
	}
	l.lb.AddTarget(n, link)
	l.mu.Lock()
	l.webs = append(l.webs, n)
	l.mu.Unlock()
	return n, nil
}

func (l *lab) webNodes() []*session.Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.webs)
}

// served is each web server's requests served so far.
func (l *lab) served() map[string]int64 {
	out := map[string]int64{}
	for _, w := range l.webNodes() {
		out[w.Name()] = w.Served()
	}
	return out
}

// elastic lets add put a new web server behind the load balancer.
func (l *lab) elastic() {
	l.sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
		if a.Target != string(web.RoleWeb) {
			return fmt.Errorf("add %s: only web servers can be added here (add web): %w", a.Target, engine.ErrNotSupported)
		}
		return nil
	}, func(engine.Action) error {
		base := l.served()
		n, err := l.addWeb()
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.added[n.Name()] = addition{at: l.sys.Clock.Now(), policy: l.lb.Policy(), base: base}
		l.mu.Unlock()
		return nil
	})
	l.sys.LimitNodes(web.RoleWeb, 6)
}

func step(tn tune) func(sys *engine.System, opt chapters.Options) (*lab, error) {
	return func(sys *engine.System, opt chapters.Options) (*lab, error) { return build(sys, opt, tn) }
}
