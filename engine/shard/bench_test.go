package shard

import (
	"context"
	"sync"
	"testing"
	"time"

	"scalelab/engine/internal/enginetest"
)

// BenchmarkOwner is the router's lookup of the shard owning a user under
// each strategy: on every query's path, it should take well under a
// microsecond.
func BenchmarkOwner(b *testing.B) {
	for _, tc := range []struct {
		name string
		l    Layout
		n    int
	}{
		{"modulo", Layout{Strategy: Modulo, Key: KeyUser}, 4},
		{"range", Layout{Strategy: Range, Key: KeyUser, Users: 2000}, 4},
		{"ring-64", Layout{Strategy: Ring, Key: KeyUser, VNodes: 64}, 4},
		{"country", Layout{Strategy: Modulo, Key: KeyCountry}, 4},
		{"modulo-pin", Layout{Strategy: Modulo, Key: KeyUser, Pins: map[int]string{7: "shard-5"}}, 5},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := mustMap(b, tc.l, tc.n)
			sum := 0
			u := 0
			for b.Loop() {
				u = u%2000 + 1
				sum += m.Owner(u)
			}
			if sum < 0 {
				b.Fatal("unreachable")
			}
		})
	}
}

// BenchmarkMover is the mover's speed: a 4-shard router seeded with the
// default shape (52,000 rows) goes to 5 shards under modulo with no
// throttle while a writer keeps posting. rows/s is the rows copied to
// their new owners over the whole move's real time, from AddShard until
// the old copies are deleted and every row checked; copy-rows/s over the
// copy alone, until routing switched (the lab clock runs at real speed).
func BenchmarkMover(b *testing.B) {
	var moved int64
	var took, copying time.Duration
	for range b.N {
		b.StopTimer()
		_, r := newRouter(b, 1, DefaultShape(), moduloLayout(), 4, 0)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := 1; ctx.Err() == nil; u = u%DefaultShape().Users + 1 {
				r.Post(ctx, u)
			}
		}()
		b.StartTimer()
		start := time.Now()
		if _, err := r.AddShard(shardConfig(5)); err != nil {
			b.Fatal(err)
		}
		enginetest.Eventually(b, "the move over", within, func() bool { return !r.Moving() })
		took += time.Since(start)
		b.StopTimer()
		stop()
		wg.Wait()
		mv := r.Moves()[0]
		if !mv.Checked || mv.Lost != 0 || mv.Misplaced != 0 || mv.Duplicates != 0 || mv.Kept == 0 {
			b.Fatalf("move: checked %v, %d lost, %d misplaced, %d duplicates, %d writes kept", mv.Checked, mv.Lost, mv.Misplaced, mv.Duplicates, mv.Kept)
		}
		moved += mv.Moved
		copying += mv.Switched - mv.Started
	}
	b.ReportMetric(float64(moved)/took.Seconds(), "rows/s")
	b.ReportMetric(float64(moved)/copying.Seconds(), "copy-rows/s")
}
