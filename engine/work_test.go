package engine_test

import (
	"errors"
	"scalelab/engine"
	"testing"
	"time"
)

func TestMeterCountsFailures(t *testing.T) {
	m := engine.NewMeter(engine.NewClock())
	m.Record(engine.OpRead, 2*time.Millisecond, nil)
	m.Record(engine.OpRead, time.Second, errors.New("data tier down"))
	if q := m.Quantiles(engine.OpRead); q.N != 1 {
		t.Errorf("meter counted %d read latencies, want 1 (a failure is not one)", q.N)
	}
	if f := m.Failed(engine.OpRead); f != 1 {
		t.Errorf("meter failures = %d, want 1", f)
	}
	if f := m.Failed(engine.OpFeed); f != 0 {
		t.Errorf("feed failures = %d, want 0", f)
	}
}
