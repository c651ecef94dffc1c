package engine

import (
	"io"
	"log"
	"sync"
)

// EventLog is the lab's event log. Safe for concurrent use.
type EventLog struct {
	mu     sync.Mutex
	clock  *Clock
	events []Event
	tones  map[EventKind]Tone
}

// maxEvents bounds memory in long runs; the newest are kept.
const maxEvents = 20000

// NewEventLog makes an empty log stamped by clock.
func NewEventLog(clock *Clock) *EventLog {
	l := &EventLog{clock: clock, tones: map[EventKind]Tone{}}
	l.Declare(ToneBad, EvKill, EvSaturate)
	l.Declare(ToneGood, EvUp, EvAdd)
	l.Declare(ToneWarn, EvLatency, EvSpike, EvRestart)
	l.Declare(ToneInfo, EvSet, EvRate, EvSpeed, EvPause, EvResume)
	return l
}

// Declare sets the tone events of these kinds are shown in; a kind never
// declared is neutral. Components declare their kinds when they join a
// system.
func (l *EventLog) Declare(tone Tone, kinds ...EventKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range kinds {
		l.tones[k] = tone
	}
}

// Add appends an event at the current lab time; its detail is what says
// in English, on one line.
func (l *EventLog) Add(kind EventKind, node string, what Text) {
	t := l.clock.Now()
	e := Event{T: t, TMs: t.Milliseconds(), Kind: kind, Node: node, Detail: OneLine(what.String()), Text: what}
	l.mu.Lock()
	e.Tone = l.tones[kind]
	if len(l.events) >= maxEvents {
		l.events = append(l.events[:0], l.events[len(l.events)/2:]...)
	}
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// All returns a copy of every kept event, oldest first.
func (l *EventLog) All() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Last returns a copy of the newest n events and how many there are in all.
func (l *EventLog) Last(n int) ([]Event, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := len(l.events) - n
	if i < 0 {
		i = 0
	}
	return append([]Event(nil), l.events[i:]...), len(l.events)
}

// quietLog drops net/http's server log lines: a crash-like kill makes them by
// design, and they would corrupt the TUI.
var quietLog = log.New(io.Discard, "", 0)
