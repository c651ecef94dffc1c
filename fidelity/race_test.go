//go:build race

package fidelity

// raceEnabled: the race detector slows every request several times, so
// latencies measured under it say nothing about the lab.
const raceEnabled = true
