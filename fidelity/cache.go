package fidelity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"scalelab/engine/cache"
)

// CacheTrace is the eviction comparison's work: GETs of Zipf-distributed
// keys, each miss followed by a SET of the key (cache-aside), at a key
// capacity that is a share of the key space.
type CacheTrace struct {
	Keys     int     // distinct keys
	Gets     int     // GETs replayed
	Zipf     float64 // exponent s
	ValueLen int     // bytes of each value
	Seed     uint64
}

// DefaultCacheTrace is the issue's: 200k GETs, Zipf 1.1 over 20k keys,
// 100-byte values.
var DefaultCacheTrace = CacheTrace{Keys: 20000, Gets: 200000, Zipf: 1.1, ValueLen: 100, Seed: 1}

// CacheShares are the capacities compared, as shares of the key space.
var CacheShares = []float64{0.05, 0.20, 0.50}

// CachePolicies are the eviction policies compared.
var CachePolicies = []string{cache.EvictLRU, cache.EvictLFU, cache.EvictRandom}

// keys returns the trace's key sequence.
func (t CacheTrace) keys() []int {
	r := rand.New(rand.NewPCG(t.Seed, 0x2a))
	z := rand.NewZipf(r, t.Zipf, 1, uint64(t.Keys-1))
	out := make([]int, t.Gets)
	for i := range out {
		out[i] = int(z.Uint64())
	}
	return out
}

func keyName(i int) string { return "key:" + strconv.Itoa(i) }

// cacheRun is one policy at one capacity on one side.
type cacheRun struct {
	hits, evictions int64
	held            int64         // keys held at the end
	took            time.Duration // wall time of the replay
}

// getOrSet is one step of the trace on the server: a GET, and on a miss a
// SET, in one command so that the steps can be pipelined in order. A
// script is one command: Redis evicts before it, as before a GET.
var getOrSet = redis.NewScript(`if redis.call('GET', KEYS[1]) then return 1 end
redis.call('SET', KEYS[1], ARGV[1])
return 0`)

// realCacheRun replays the trace on a fresh redis-server: the most popular
// keys fill the capacity first, then maxmemory is set to the memory they
// take, so both sides hold the same number of keys.
func realCacheRun(ctx context.Context, path string, t CacheTrace, seq []int, policy string, capacity int) (cacheRun, error) {
	srv, err := StartRedis(path, "maxmemory-policy "+policy, "maxmemory-samples 5")
	if err != nil {
		return cacheRun{}, err
	}
	defer srv.Close()
	rdb := srv.Client()
	val := strings.Repeat("v", t.ValueLen)
	if err := getOrSet.Load(ctx, rdb).Err(); err != nil {
		return cacheRun{}, err
	}
	// the capacity's most popular keys first, through the same pipelined
	// scripts as the trace, so that the client's buffers and the script
	// cache are in the memory measured
	fill := make([]int, capacity)
	for i := range fill {
		fill[i] = i
	}
	_, used, err := replayGets(ctx, rdb, fill, val)
	if err != nil {
		return cacheRun{}, err
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used, 10)).Err(); err != nil {
		return cacheRun{}, err
	}
	var run cacheRun
	start := time.Now()
	if run.hits, _, err = replayGets(ctx, rdb, seq, val); err != nil {
		return cacheRun{}, err
	}
	run.took = time.Since(start)
	if run.evictions, err = infoInt(ctx, rdb, "stats", "evicted_keys"); err != nil {
		return cacheRun{}, err
	}
	run.held, err = rdb.DBSize(ctx).Result()
	return run, err
}

// replayGets runs getOrSet for each key in order, pipelined, and counts the
// hits. It also returns used_memory as read at the end of the last batch,
// while the client's query buffer still holds a batch: the eviction that
// follows sees a buffer that size too, and it counts in used_memory.
func replayGets(ctx context.Context, rdb *redis.Client, seq []int, val string) (hits, used int64, err error) {
	for i := 0; i < len(seq); i += replayBatch {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, 0, replayBatch)
		for _, k := range seq[i:min(i+replayBatch, len(seq))] {
			cmds = append(cmds, getOrSet.EvalSha(ctx, pipe, []string{keyName(k)}, val))
		}
		info := pipe.Info(ctx, "memory")
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, 0, err
		}
		for _, c := range cmds {
			if n, _ := c.Int64(); n == 1 {
				hits++
			}
		}
		if used, err = infoField(info.Val(), "used_memory"); err != nil {
			return 0, 0, err
		}
	}
	return hits, used, nil
}

// replayBatch is how many steps go in one pipeline.
const replayBatch = 200

// labCacheRun replays the trace on the lab's eviction (engine/cache's
// Keyspace, the code every lab cache runs), with the lab clock moving as
// the real server's did: the same time for each step.
func labCacheRun(t CacheTrace, seq []int, policy string, capacity int, took time.Duration) (cacheRun, error) {
	ks := cache.NewKeyspace(cache.CacheConfig{Policy: policy, Samples: 5}, t.Seed)
	for i := 0; i < capacity; i++ {
		k := keyName(i)
		if _, err := ks.Put(k, cache.Charge(len(k), t.ValueLen, false), 0, 0); err != nil {
			return cacheRun{}, err
		}
	}
	cfg := ks.Config()
	cfg.MaxMemory = ks.Used()
	ks.SetConfig(cfg)
	var run cacheRun
	step := took / time.Duration(len(seq))
	for i, k := range seq {
		now := time.Duration(i+1) * step
		name := keyName(k)
		if ks.Touch(name, now) {
			run.hits++
			continue
		}
		if _, err := ks.Put(name, cache.Charge(len(name), t.ValueLen, false), 0, now); err != nil {
			return cacheRun{}, err
		}
	}
	run.evictions, run.held, run.took = ks.Evictions(), int64(ks.Len()), took
	return run, nil
}

// Cache compares hit ratio, evictions and keys held per policy and
// capacity, and the memory a key is charged.
func Cache(ctx context.Context, tools Tools, t CacheTrace) ([]Row, error) {
	against := Version(tools.RedisServer, "--version")
	seq := t.keys()
	var rows []Row
	for _, share := range CacheShares {
		capacity := int(share * float64(t.Keys))
		// the policies' servers run side by side: each replay's lab side
		// moves its clock as its own server's did, so the comparison does
		// not depend on how fast the machine was
		reals := make([]cacheRun, len(CachePolicies))
		errs := make([]error, len(CachePolicies))
		var wg sync.WaitGroup
		for i, policy := range CachePolicies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reals[i], errs[i] = realCacheRun(ctx, tools.RedisServer, t, seq, policy, capacity)
			}()
		}
		wg.Wait()
		for i, policy := range CachePolicies {
			if errs[i] != nil {
				return nil, fmt.Errorf("%s at %.0f%%: %w", policy, 100*share, errs[i])
			}
			real := reals[i]
			lab, err := labCacheRun(t, seq, policy, capacity, real.took)
			if err != nil {
				return nil, err
			}
			cas := fmt.Sprintf("%s, %.0f%% of keys", policy, 100*share)
			n := float64(len(seq))
			rows = append(rows,
				Within("cache", cas, "hit_ratio", against, float64(lab.hits)/n, float64(real.hits)/n, 0.01, "±0.01"),
				// an eviction follows nearly every miss: as close as the misses
				Within("cache", cas, "evictions", against, float64(lab.evictions), float64(real.evictions), 0.01*n, "±1% of GETs"),
				relWithin("cache", cas, "keys_held", against, float64(lab.held), float64(real.held), 0.03))
		}
	}
	mem, err := memoryRows(ctx, tools.RedisServer, against, t)
	return append(rows, mem...), err
}

// relWithin passes when lab is within frac of real.
func relWithin(area, cas, metric, against string, lab, real, frac float64) Row {
	return Within(area, cas, metric, against, lab, real, frac*real, fmt.Sprintf("±%.0f%%", 100*frac))
}

// memoryRows compare the bytes a key is charged with what a real server's
// used_memory grows by, with and without a TTL, over the trace's keys.
func memoryRows(ctx context.Context, path, against string, t CacheTrace) ([]Row, error) {
	var rows []Row
	for _, ttl := range []bool{false, true} {
		srv, err := StartRedis(path)
		if err != nil {
			return nil, err
		}
		rdb := srv.Client()
		before, err := infoInt(ctx, rdb, "memory", "used_memory")
		if err != nil {
			srv.Close()
			return nil, err
		}
		val := strings.Repeat("v", t.ValueLen)
		var lab int64
		pipe := rdb.Pipeline()
		for i := 0; i < t.Keys; i++ {
			exp := time.Duration(0)
			if ttl {
				exp = time.Hour
			}
			pipe.Set(ctx, keyName(i), val, exp)
			lab += cache.Charge(len(keyName(i)), t.ValueLen, ttl)
			if pipe.Len() == 50 || i == t.Keys-1 {
				if _, err := pipe.Exec(ctx); err != nil {
					srv.Close()
					return nil, err
				}
			}
		}
		after, err := infoInt(ctx, rdb, "memory", "used_memory")
		srv.Close()
		if err != nil {
			return nil, err
		}
		cas := fmt.Sprintf("%d keys, %d-byte values", t.Keys, t.ValueLen)
		if ttl {
			cas += ", with a TTL"
		}
		n := float64(t.Keys)
		rows = append(rows, relWithin("memory", cas, "bytes_per_key", against, float64(lab)/n, float64(after-before)/n, 0.05))
	}
	return rows, nil
}

// infoInt reads one integer field of an INFO section.
func infoInt(ctx context.Context, rdb *redis.Client, section, field string) (int64, error) {
	s, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	return infoField(s, field)
}

// infoField reads one integer field of an INFO reply.
func infoField(info, field string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO has no %s", field)
}
