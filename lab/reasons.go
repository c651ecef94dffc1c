package lab

import (
	"sort"
	"time"

	"scalelab/engine"
)

// reasonWindow is how far back the leading failure reason looks.
const reasonWindow = 5 * time.Second

// failureSample is what a snapshot says of failures: the load's failed
// requests by reason and each node's error count, both since the start.
type failureSample struct {
	t      time.Duration
	reason map[string]int64
	errs   map[string]int64
	rank   map[string]int
}

// failures keeps the last few seconds of samples to name why requests
// fail now.
type failures struct{ samples []failureSample }

func (f *failures) reset() { f.samples = f.samples[:0] }

func (f *failures) add(s *engine.Snapshot) {
	if n := len(f.samples); n > 0 && s.T < f.samples[n-1].t {
		f.reset() // another session
	}
	fs := failureSample{t: s.T, reason: s.Totals.FailedByReason, errs: map[string]int64{}, rank: map[string]int{}}
	for _, n := range s.Nodes {
		fs.errs[n.Name], fs.rank[n.Name] = n.Errors, n.Layer.Rank()
	}
	f.samples = append(f.samples, fs)
	// keep one sample at least a window old as the base
	for len(f.samples) > 2 && s.T-f.samples[1].t >= reasonWindow {
		f.samples = f.samples[1:]
	}
}

// leading is the reason most requests failed for in the last few seconds,
// and for a 5xx the node it came from: the deepest on the request's path
// whose own error count grew ("" when none failed).
func (f *failures) leading() (reason, node string) {
	if len(f.samples) < 2 {
		return "", ""
	}
	base, cur := f.samples[0], f.samples[len(f.samples)-1]
	var best int64
	keys := make([]string, 0, len(cur.reason))
	for k := range cur.reason {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d := cur.reason[k] - base.reason[k]; d > best {
			reason, best = k, d
		}
	}
	if reason != engine.Reason5xx {
		return reason, ""
	}
	var nd int64
	for name, e := range cur.errs {
		d := e - base.errs[name]
		if d <= 0 {
			continue
		}
		if node == "" || cur.rank[name] > cur.rank[node] || (cur.rank[name] == cur.rank[node] && (d > nd || d == nd && name < node)) {
			node, nd = name, d
		}
	}
	return reason, node
}
