package hash

import (
	"fmt"
	"math"
	"testing"
)

// members names n ring members the way the shards are named.
func members(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("shard-%d", i+1)
	}
	return out
}

// ringKeys is how many keys the ring tests place: user ids 1..ringKeys,
// hashed as the shard map hashes them.
const ringKeys = 100_000

func keyHash(k int) uint64 { return Mix64(uint64(k)) }

// ownerCounts places ringKeys keys and counts each member's.
func ownerCounts(r *Ring, n int) []int {
	c := make([]int, n)
	for k := 1; k <= ringKeys; k++ {
		c[r.Owner(keyHash(k))]++
	}
	return c
}

// spread is the largest member's keys over the mean.
func spread(counts []int) float64 {
	top, sum := 0, 0
	for _, c := range counts {
		top = max(top, c)
		sum += c
	}
	return float64(top) / (float64(sum) / float64(len(counts)))
}

func TestRingOwnerIsTheFirstPointAtOrAfterTheHashAndWraps(t *testing.T) {
	r := NewRing(members(3), 4)
	pts := r.Points()
	if len(pts) != 12 {
		t.Fatalf("%d points, want 3 members × 4 vnodes", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i-1].Pos > pts[i].Pos {
			t.Fatalf("points out of order at %d: %d > %d", i, pts[i-1].Pos, pts[i].Pos)
		}
	}
	for i, p := range pts {
		if got := r.Owner(p.Pos); got != p.Member {
			t.Errorf("a hash on point %d is owned by %d, want the point's member %d", i, got, p.Member)
		}
		if i > 0 && pts[i-1].Pos+1 < p.Pos {
			if got := r.Owner(pts[i-1].Pos + 1); got != p.Member {
				t.Errorf("a hash just after point %d is owned by %d, want the next point's member %d", i-1, got, p.Member)
			}
		}
	}
	last, first := pts[len(pts)-1], pts[0]
	if last.Pos == math.MaxUint64 {
		t.Fatal("the last point sits at the top of the ring: nothing lies past it to wrap")
	}
	for _, h := range []uint64{last.Pos + 1, math.MaxUint64} {
		if got := r.Owner(h); got != first.Member {
			t.Errorf("hash %d past the last point is owned by %d, want the first point's member %d (wrap)", h, got, first.Member)
		}
	}
	if first.Pos > 0 {
		if got := r.Owner(0); got != first.Member {
			t.Errorf("hash 0 is owned by %d, want the first point's member %d", got, first.Member)
		}
	}
	if got := NewRing(nil, 8).Owner(42); got != -1 {
		t.Errorf("an empty ring's owner is %d, want -1", got)
	}
	if got := len(NewRing(members(2), 0).Points()); got != 2 {
		t.Errorf("vnodes 0 places %d points for 2 members, want 1 each", got)
	}
}

func TestRingSharesSumToOneAndMatchTheKeysEachMemberOwns(t *testing.T) {
	for _, tc := range []struct{ n, vnodes int }{{1, 1}, {2, 1}, {3, 8}, {4, 64}, {10, 256}} {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.vnodes), func(t *testing.T) {
			r := NewRing(members(tc.n), tc.vnodes)
			shares := r.Shares(tc.n)
			sum := 0.0
			for _, s := range shares {
				if s < 0 || s > 1 {
					t.Errorf("share %v out of 0..1", s)
				}
				sum += s
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("shares %v sum to %v, want 1", shares, sum)
			}
			// a share is the arc a member owns: the keys it gets follow it
			counts := ownerCounts(r, tc.n)
			for m, s := range shares {
				if got := float64(counts[m]) / ringKeys; math.Abs(got-s) > 0.01 {
					t.Errorf("member %d: share %.4f of the ring but %.4f of the keys", m, s, got)
				}
			}
		})
	}
	if sh := NewRing(members(1), 1).Shares(1); sh[0] != 1 {
		t.Errorf("a single point owns %v of the ring, want all of it", sh[0])
	}
	if sh := NewRing(nil, 4).Shares(2); sh[0] != 0 || sh[1] != 0 {
		t.Errorf("an empty ring's shares are %v, want zeros", sh)
	}
}

func TestRingAddingAMemberMovesOnlyKeysToIt(t *testing.T) {
	for n := 2; n <= 9; n++ {
		before, after := NewRing(members(n), 256), NewRing(members(n+1), 256)
		moved := 0
		for k := 1; k <= ringKeys; k++ {
			a, b := before.Owner(keyHash(k)), after.Owner(keyHash(k))
			if a == b {
				continue
			}
			moved++
			if b != n {
				t.Fatalf("%d→%d members: key %d moved from %d to %d, not to the new member %d", n, n+1, k, a, b, n)
			}
		}
		share, want := float64(moved)/ringKeys, 1/float64(n+1)
		if math.Abs(share-want) > 0.025 {
			t.Errorf("%d→%d members: %.3f of the keys moved, want about 1/%d = %.3f", n, n+1, share, n+1, want)
		}
	}
}

func TestRingMoreVNodesLowerTheSpread(t *testing.T) {
	for _, n := range []int{4, 10} {
		s1 := spread(ownerCounts(NewRing(members(n), 1), n))
		s8 := spread(ownerCounts(NewRing(members(n), 8), n))
		s256 := spread(ownerCounts(NewRing(members(n), 256), n))
		t.Logf("%d members: spread %.3f with 1 vnode, %.3f with 8, %.3f with 256", n, s1, s8, s256)
		if s256 > 1.15 {
			t.Errorf("%d members, 256 vnodes: the largest member holds %.3f× the mean, want 1.15× or less", n, s256)
		}
		if s256 > s8-0.15 || s256 > s1-0.15 {
			t.Errorf("%d members: 256 vnodes' spread %.3f is not clearly below 8's %.3f and 1's %.3f", n, s256, s8, s1)
		}
	}
}
