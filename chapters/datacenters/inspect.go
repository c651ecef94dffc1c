package datacenters

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"scalelab/engine"
)

// resolverLines are the inspector's lines on the dns node: for each
// region, which data center its resolvers' cached answers for the name
// name, how many resolvers hold each, and how long they have left.
func (l *lab) resolverLines() []engine.Line {
	var out []engine.Line
	for _, r := range regions {
		by := map[string]int{}
		lo, hi := time.Duration(-1), time.Duration(0)
		for _, res := range l.res[r.name] {
			for _, e := range res.Entries() {
				if e.Name != host || e.Negative || len(e.Addrs) == 0 {
					continue
				}
				by[l.dcOf(e.Addrs[0])]++
				if lo < 0 || e.Left < lo {
					lo = e.Left
				}
				hi = max(hi, e.Left)
			}
		}
		if len(by) == 0 {
			out = append(out, engine.Line{Label: engine.Textf("dc.region", "%s cached", r.name), Value: engine.Textf("dc.none_cached", "none cached")})
			continue
		}
		var parts []string
		for dc, n := range by {
			parts = append(parts, fmt.Sprintf("%s ×%d", dc, n))
		}
		sort.Strings(parts)
		out = append(out, engine.Line{Label: engine.Textf("dc.region", "%s cached", r.name),
			Value: engine.Textf("dc.cached", "%s · %s–%s left", strings.Join(parts, ", "), lo.Round(time.Second), hi.Round(time.Second))})
	}
	return out
}
