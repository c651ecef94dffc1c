package chapters

import "math"

// Pct is 100*a/b, 0 when b is 0.
func Pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Round1 rounds to one decimal for reports, or to two below 10 so that
// sub-millisecond figures keep their meaning.
func Round1(v float64) float64 {
	if v < 10 && v > -10 {
		return math.Round(v*100) / 100
	}
	return math.Round(v*10) / 10
}
