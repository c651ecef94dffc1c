// Package hash holds the hashing the components share: rendezvous (highest
// random weight) hashing over FNV-1a, used by the load balancer's hash
// policies and the cache tier's key placement. Consistent hashing for
// shards belongs here too.
package hash

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// FNV1a hashes s with 64-bit FNV-1a.
func FNV1a(s string) uint64 { return fnv1a(fnvOffset, s) }

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// Mix64 is splitmix64's finalizer: FNV's last bytes barely reach the high
// bits, and rendezvous compares whole values.
func Mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Rendezvous returns the item whose hash of key and name(item) is highest,
// and false when items is empty. When an item leaves, only the keys it owned
// move; when one joins, it takes about 1/n of the keys.
func Rendezvous[T any](items []T, name func(T) string, key string) (T, bool) {
	var best T
	var top uint64
	found := false
	k := FNV1a(key)
	for _, it := range items {
		if s := Mix64(fnv1a(k^0xff, name(it))); !found || s > top {
			best, top, found = it, s, true
		}
	}
	return best, found
}
