// Checking and carrying out actions on a system.

package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownKnob is returned by set for a knob the chapter does not have.
var ErrUnknownKnob = errors.New("unknown knob")

// ErrUnknownAction is returned for an action no component of this topology
// carries out.
var ErrUnknownAction = errors.New("unknown action")

// ErrNotSupported is returned for an action this topology cannot do.
var ErrNotSupported = errors.New("not supported")

// Check tells whether an action could apply to this system, without
// applying it: targets, knobs and knob values are checked.
func (s *System) Check(a Action) error {
	switch a.Kind {
	case ActKill, ActRestart:
		_, err := s.Resolve(a.Target)
		return err
	case ActCut, ActHeal:
		for _, t := range strings.Split(a.Target, ",") {
			if _, err := s.Resolve(t); err != nil {
				return err
			}
		}
	case ActLatency:
		if strings.Contains(a.Target, ">") {
			if _, ok := s.Link(a.Target); !ok {
				return fmt.Errorf("%q: no such link: %w", a.Target, ErrUnknownTarget)
			}
			return nil
		}
		_, err := s.Resolve(a.Target)
		return err
	case ActSet:
		k := s.knob(a.Key)
		if k == nil {
			return s.unknownKnob(a.Key)
		}
		return k.Check(a.Str)
	case ActAdd, ActRemove, ActDrain:
		h, ok := s.handler(a.Kind)
		if !ok {
			return fmt.Errorf("%s: %w in this step", a.Kind, ErrNotSupported)
		}
		if a.Kind == ActAdd {
			if err := s.checkLimit(a); err != nil {
				return err
			}
		}
		var nodes []Node
		if a.Kind == ActRemove || a.Kind == ActDrain {
			var err error
			if nodes, err = s.Resolve(a.Target); err != nil {
				return err
			}
		}
		return h.checkAction(a, nodes)
	case ActPause, ActResume, ActSpeed:
	default:
		h, ok := s.handler(a.Kind)
		if !ok {
			s.mu.Lock()
			var own []Kind
			for k := range s.handlers {
				if !slices.Contains(coreKinds, k) {
					own = append(own, k)
				}
			}
			s.mu.Unlock()
			slices.Sort(own)
			return fmt.Errorf("%w %q (want %s)", ErrUnknownAction, a.Kind, kindList(append(slices.Clone(coreKinds), own...)))
		}
		return h.checkAction(a, nil)
	case ActRate, ActSpike:
		if s.Load == nil {
			return fmt.Errorf("%s: no load in this step: %w", a.Kind, ErrNotSupported)
		}
	}
	return nil
}

func (s *System) handler(k Kind) (handler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.handlers[k]
	return h, ok
}

func (h handler) checkAction(a Action, nodes []Node) error {
	if h.check == nil {
		return nil
	}
	return h.check(a, nodes)
}

func (s *System) knob(name string) *Knob {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.knobs {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

func (s *System) unknownKnob(name string) error {
	s.mu.Lock()
	var have []string
	for _, k := range s.knobs {
		have = append(have, k.Name())
	}
	s.mu.Unlock()
	if len(have) == 0 {
		return fmt.Errorf("%q: this step has no knobs: %w", name, ErrUnknownKnob)
	}
	return fmt.Errorf("%q: have %s: %w", name, strings.Join(have, ", "), ErrUnknownKnob)
}

// Apply carries out an action.
func (s *System) Apply(a Action) error {
	if err := s.Check(a); err != nil {
		return err
	}
	switch a.Kind {
	case ActKill, ActRestart:
		nodes, _ := s.Resolve(a.Target)
		var errs []error
		for _, n := range nodes {
			var err error
			if a.Kind == ActKill {
				err = n.Kill()
			} else {
				err = n.Restart()
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	case ActCut, ActHeal:
		var group []string
		for _, t := range strings.Split(a.Target, ",") {
			nodes, _ := s.Resolve(t)
			for _, n := range nodes {
				group = append(group, n.Name())
			}
		}
		s.Partition(group, a.Kind == ActCut)
	case ActLatency:
		if l, ok := s.Link(a.Target); ok {
			l.SetLatency(a.Dur)
			s.Events.Add(EvLatency, a.Target, Textf("chaos.latency", "+%s", a.Dur))
		} else {
			// the event names each node, not "@random-web"
			nodes, _ := s.Resolve(a.Target)
			for _, n := range nodes {
				n.SetLatency(a.Dur)
				s.Events.Add(EvLatency, n.Name(), Textf("chaos.latency", "+%s", a.Dur))
			}
		}
	case ActRate:
		s.Load.SetRate(a.Value)
		s.Events.Add(EvRate, "load", Textf("load.rate", "%.0f req/s", a.Value))
	case ActSpike:
		s.Load.Spike(a.Value, a.Dur)
		s.Events.Add(EvSpike, "load", Textf("load.spike", "%gx for %s", a.Value, a.Dur))
	case ActSet:
		if err := s.knob(a.Key).Set(a.Str); err != nil {
			return fmt.Errorf("set %s: %w", a.Key, err)
		}
		s.Events.Add(EvSet, a.Key, Textf("knob.set", "%s", KnobValue(a.Str)))
	case ActAdd, ActRemove, ActDrain:
		h, _ := s.handler(a.Kind)
		return h.do(a)
	case ActPause:
		s.Clock.Pause()
		s.Events.Add(EvPause, "clock", Textf("clock.paused", "paused"))
		s.publish()
	case ActResume:
		// logged while the clock still stands, so the resume carries the
		// lab time it resumed at, not a moment after
		if s.Clock.Paused() {
			s.Events.Add(EvResume, "clock", Textf("clock.running", "running"))
		}
		s.Clock.Resume()
	case ActSpeed:
		if err := s.Clock.SetSpeed(a.Value); err != nil {
			return err
		}
		s.Events.Add(EvSpeed, "clock", Textf("clock.speed", "%gx", a.Value))
		s.publish()
	default: // a component's action, checked above
		h, _ := s.handler(a.Kind)
		return h.do(a)
	}
	return nil
}
