// Package fidelity checks the lab's components against the real software
// they stand in for: it replays the same fixed work against each in the
// same run and compares what was measured. The caches, streams and TTLs
// run one after the other; the load balancers run side by side, each in
// front of a twin of the same web tier, so that a stall of the machine
// hits both alike. Every row states its tolerance and gives a verdict; the
// suite's tolerances are its test assertions.
package fidelity

import (
	"fmt"
	"math"
	"regexp"
)

// Row is one comparison: one measure of one case, on the lab's component
// and on the real software.
type Row struct {
	Area    string `json:"area"`    // cache, lb, streams, ttl
	Case    string `json:"case"`    // e.g. "allkeys-lru, 5% of keys"
	Metric  string `json:"metric"`  // e.g. "hit_ratio"
	Against string `json:"against"` // the real software and its version
	// Lab and Real are the measures; for outputs compared as text
	// (streams) LabText and RealText hold them and the figures are 0.
	Lab      float64 `json:"lab"`
	Real     float64 `json:"real"`
	LabText  string  `json:"lab_text,omitempty"`
	RealText string  `json:"real_text,omitempty"`
	// Tolerance says what counts as agreeing, e.g. "±0.01" or "equal".
	Tolerance string `json:"tolerance"`
	Pass      bool   `json:"pass"`
	// Known, on a row that differs, says why: a difference of the stand-in
	// (miniredis) that this suite found and that no path of the lab uses.
	Known string `json:"known_difference,omitempty"`
}

// Verdict is ok, known (a known difference) or differs.
func (r Row) Verdict() string {
	switch {
	case r.Pass:
		return "ok"
	case r.Known != "":
		return "known"
	}
	return "differs"
}

var stepNumber = regexp.MustCompile(`^[0-9]+ `)

// markKnown gives each row that differs and is named in known (by its case
// without its step number) the reason.
func markKnown(rows []Row, known map[string]string) []Row {
	for i, r := range rows {
		if why, ok := known[stepNumber.ReplaceAllString(r.Case, "")]; ok && !r.Pass {
			rows[i].Known = why
		}
	}
	return rows
}

// Within is a row that passes when |lab-real| <= tol.
func Within(area, cas, metric, against string, lab, real, tol float64, tolText string) Row {
	return Row{Area: area, Case: cas, Metric: metric, Against: against, Lab: lab, Real: real,
		Tolerance: tolText, Pass: math.Abs(lab-real) <= tol+1e-12}
}

// Equal is a row that passes when the two outputs are the same text.
func Equal(area, cas, metric, against, lab, real string) Row {
	return Row{Area: area, Case: cas, Metric: metric, Against: against, LabText: lab, RealText: real,
		Tolerance: "equal", Pass: lab == real}
}

// String is the row as the table shows it.
func (r Row) String() string {
	v := r.Verdict()
	if r.LabText != "" || r.RealText != "" {
		return fmt.Sprintf("%s %s %s: lab %q, real %q (%s) %s", r.Area, r.Case, r.Metric, r.LabText, r.RealText, r.Tolerance, v)
	}
	return fmt.Sprintf("%s %s %s: lab %.4g, real %.4g (%s) %s", r.Area, r.Case, r.Metric, r.Lab, r.Real, r.Tolerance, v)
}
