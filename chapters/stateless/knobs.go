// The stateless chapter's knobs and their values.

package stateless

import (
	"time"

	"scalelab/engine"
)

// accessTTLs are the access-token lifetimes a knob cycles through.
var accessTTLs = []string{"15m", "1m", "10s"}

func (l *lab) knobs(tn tune) {
	a, u := l.auth, l.users
	onOff := func(apply func(bool)) func(string) error {
		return func(v string) error { apply(v == "on"); return nil }
	}
	off := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	all := map[string]*engine.Knob{
		"auth.ttl": engine.NewKnob("auth.ttl", accessTTLs, tn.ttl, func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil {
				a.SetAccessTTL(d)
			}
			return err
		}),
		"auth.denylist": engine.NewKnob("auth.denylist", []string{"off", "on"}, "off", onOff(a.SetDenylist)),
		"auth.rotation": engine.NewKnob("auth.rotation", []string{"on", "off"}, "on", onOff(a.SetRotate)),
		"auth.attack":   engine.NewKnob("auth.attack", []string{"off", "on"}, off(tn.attack), onOff(u.SetAttack)),
	}
	for _, k := range tn.knobs {
		l.sys.AddKnob(all[k])
	}
}
