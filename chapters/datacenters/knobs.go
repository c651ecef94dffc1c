package datacenters

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"scalelab/engine"
	"scalelab/engine/dns"
)

// Values of the dns.weights knob: answers by region, or the share of
// answers naming us and eu ("100/0" sends everyone to us).
var weightValues = []string{"geo", "100/0", "90/10", "50/50"}

// ttlValues are the record TTLs a step offers, in lab time, in the order
// the key cycles them: from the steps' 15 s, one press gives 5 s.
var ttlValues = []string{"15s", "5s", "60s", "300s"}

// setWeights applies a dns.weights value.
func (l *lab) setWeights(v string) error {
	if v == "geo" {
		return l.dns.SetPolicy(dns.PolicyGeo)
	}
	a, b, ok := strings.Cut(v, "/")
	us, err1 := strconv.Atoi(a)
	eu, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("dns.weights takes geo or US/EU percentages such as 90/10, not %q", v)
	}
	l.dns.SetWeights(map[string]int{"us": us, "eu": eu})
	return l.dns.SetPolicy(dns.PolicyWeighted)
}

func (l *lab) knobs(tn tune) error {
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	all := map[string]*engine.Knob{
		"dns.weights": engine.NewKnob("dns.weights", weightValues, tn.weights, l.setWeights),
		"dns.ttl": engine.NewKnob("dns.ttl", ttlValues, tn.ttl, func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil {
				l.dns.SetTTL(d)
			}
			return err
		}),
		"dns.fallback": engine.NewKnob("dns.fallback", []string{"off", "on"}, onOff(tn.fallback), func(v string) error {
			l.dns.SetSecond(v == "on")
			l.clients.SetFallback(v == "on")
			return nil
		}),
	}
	if err := l.setWeights(tn.weights); err != nil {
		return err
	}
	l.dns.SetSecond(tn.fallback)
	l.clients.SetFallback(tn.fallback)
	for _, k := range tn.knobs {
		l.sys.AddKnob(all[k])
	}
	return nil
}
