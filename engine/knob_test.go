package engine_test

import (
	"errors"
	"strings"
	"testing"

	"scalelab/engine"
)

func TestKnobChecksAppliesAndRemembers(t *testing.T) {
	var applied []string
	errNo := errors.New("refused by apply")
	k := engine.NewKnob("lb.policy", []string{"round-robin", "least-conn"}, "round-robin", func(v string) error {
		if v == "least-conn" && len(applied) > 0 {
			return errNo
		}
		applied = append(applied, v)
		return nil
	})
	if k.Name() != "lb.policy" || k.Value() != "round-robin" || len(k.Values()) != 2 {
		t.Fatalf("new knob: %s %q %v", k.Name(), k.Value(), k.Values())
	}
	// a value the knob does not take is refused before apply runs
	if err := k.Set("random"); err == nil || !strings.Contains(err.Error(), "round-robin, least-conn") || len(applied) != 0 || k.Value() != "round-robin" {
		t.Fatalf("bad value: %v, applied %v, value %q", err, applied, k.Value())
	}
	if err := k.Set("least-conn"); err != nil || k.Value() != "least-conn" {
		t.Fatalf("good value: %v, value %q", err, k.Value())
	}
	// a failed apply leaves the value as it was
	if err := k.Set("least-conn"); !errors.Is(err, errNo) || k.Value() != "least-conn" {
		t.Fatalf("failed apply: %v, value %q", err, k.Value())
	}
	k.Values()[0] = "changed"
	if k.Values()[0] != "round-robin" {
		t.Error("Values shares the knob's slice")
	}
	// a free-form knob takes what apply accepts
	free := engine.NewKnob("cache.ttl", nil, "", func(v string) error {
		if v == "" {
			return errNo
		}
		return nil
	})
	if err := free.Set("90s"); err != nil || free.Value() != "90s" {
		t.Fatalf("free-form: %v, %q", err, free.Value())
	}
	if err := free.Set(""); err == nil || free.Value() != "90s" {
		t.Fatalf("free-form refused: %v, %q", err, free.Value())
	}
}
