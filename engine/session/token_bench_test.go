package session

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkVerify measures one Verify of a good token per op, and reports
// the median of 10,000 single timed verifies as p50-µs.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			tk, clk := newTokens(b, alg)
			tok, _, err := tk.Issue("alice", 15*time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			clk.set(time.Minute)
			b.ReportAllocs()
			for b.Loop() {
				if _, why := tk.Verify(tok); why != "" {
					b.Fatalf("refused: %s", why)
				}
			}
			const n = 10_000
			lat := make([]time.Duration, n)
			for i := range lat {
				start := time.Now()
				_, why := tk.Verify(tok)
				lat[i] = time.Since(start)
				if why != "" {
					b.Fatalf("refused: %s", why)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[n/2].Nanoseconds())/1e3, "p50-µs")
		})
	}
}
