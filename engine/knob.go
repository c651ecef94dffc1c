package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Knob is a setting of a component or a chapter that keys and `set` lines
// change: the values it takes (in the order a key cycles through them), its
// current value, and how a new value is applied. Every knob is made by
// NewKnob and checked the same way.
type Knob struct {
	name   string
	values []string
	apply  func(v string) error

	setMu sync.Mutex // one Set at a time
	cur   atomic.Value
}

// NewKnob makes a knob whose value is initial. values lists the values it
// takes, in cycle order; nil takes any value apply accepts. apply puts a
// new value into effect; the knob remembers it only when apply succeeds.
func NewKnob(name string, values []string, initial string, apply func(v string) error) *Knob {
	k := &Knob{name: name, values: slices.Clone(values), apply: apply}
	k.cur.Store(initial)
	return k
}

// Name is the knob's name, e.g. "lb.policy".
func (k *Knob) Name() string { return k.name }

// Values are the values the knob takes, in cycle order; nil when free-form.
func (k *Knob) Values() []string { return slices.Clone(k.values) }

// Value is the knob's current value.
func (k *Knob) Value() string { return k.cur.Load().(string) }

// Check tells whether the knob takes v.
func (k *Knob) Check(v string) error {
	if k.values != nil && !slices.Contains(k.values, v) {
		return fmt.Errorf("%s takes %s, not %q", k.name, strings.Join(k.values, ", "), v)
	}
	return nil
}

// Set checks v, applies it and remembers it.
func (k *Knob) Set(v string) error {
	if err := k.Check(v); err != nil {
		return err
	}
	k.setMu.Lock()
	defer k.setMu.Unlock()
	if err := k.apply(v); err != nil {
		return err
	}
	k.cur.Store(v)
	return nil
}
