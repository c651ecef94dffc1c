// The CDN chapter's knobs and their values.

package cdn

import (
	"time"

	"scalelab/engine"
)

var cdnTTLs = []string{"10s", "60s", "10m"}

func (l *cdnLab) knobs(tune cdnTune) {
	b, o := l.browsers, l.origin
	onOff := func(apply func(bool)) func(string) error {
		return func(v string) error { apply(v == "on"); return nil }
	}
	all := map[string]*engine.Knob{
		"cdn.route": engine.NewKnob("cdn.route", []string{"cdn", "origin"}, tune.route, func(v string) error { b.SetCDN(v == "cdn"); return nil }),
		"cdn.ttl": engine.NewKnob("cdn.ttl", cdnTTLs, tune.ttl, func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil {
				o.SetTTL(d)
			}
			return err
		}),
		"cdn.urls":           engine.NewKnob("cdn.urls", []string{"plain", "versioned"}, "plain", func(v string) error { b.SetVersioned(v == "versioned"); return nil }),
		"cdn.fallback":       engine.NewKnob("cdn.fallback", []string{"on", "off"}, "on", onOff(b.SetFallback)),
		"cdn.stale-if-error": engine.NewKnob("cdn.stale-if-error", []string{"off", "on"}, "off", onOff(o.SetStaleIfError)),
	}
	for _, k := range tune.knobs {
		l.sys.AddKnob(all[k])
	}
}
