// Tests of what the load asks for: key popularity, custom fetches and the
// operation mix.

package engine

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ctCounter counts requests by a function of the request.
type ctCounter struct {
	mu sync.Mutex
	n  map[string]int
	by func(*http.Request) string
}

func (c *ctCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := c.by(r)
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
	io.WriteString(w, "ok")
}

func (c *ctCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func ctKeyShares(t *testing.T, zipf float64) (top5 float64, first string, distinct int) {
	t.Helper()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Query().Get("id") }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Zipf = zipf; c.Keys = 1000 })
	tot := r.run(t, 3*time.Second)
	counts := h.counts()
	type kv struct {
		k string
		n int
	}
	var all []kv
	sum := 0
	for k, n := range counts {
		all = append(all, kv{k, n})
		sum += n
		if id, err := strconv.Atoi(k); err != nil || id < 0 || id >= 1000 {
			t.Fatalf("key %q outside 0..999", k)
		}
	}
	if int64(sum) != tot.Sent {
		t.Fatalf("handler saw %d requests, generator sent %d", sum, tot.Sent)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	hot := 0
	for i := 0; i < 5 && i < len(all); i++ {
		hot += all[i].n
	}
	return float64(hot) / float64(sum), all[0].k, len(all)
}

func TestLoadZipfKeys(t *testing.T) {
	t.Parallel()
	top5, first, distinct := ctKeyShares(t, 1.5)
	if top5 < 0.40 {
		t.Errorf("zipf 1.5: the 5 hottest keys got %.1f%% of requests, want > 40%%", 100*top5)
	}
	if first != "0" {
		t.Errorf("zipf: the hottest key is %s, want 0", first)
	}
	uTop5, _, uDistinct := ctKeyShares(t, 0)
	if uTop5 > 0.03 {
		t.Errorf("uniform: the 5 hottest keys got %.1f%% of requests, want < 3%%", 100*uTop5)
	}
	if uDistinct < 700 || distinct >= uDistinct {
		t.Errorf("distinct keys: zipf %d, uniform %d of 1000", distinct, uDistinct)
	}
	t.Logf("top-5 share: zipf %.1f%%, uniform %.1f%%; distinct keys %d vs %d", 100*top5, 100*uTop5, distinct, uDistinct)
}

// SetZipf changes the key skew of a running load; bad exponents are refused.
func TestLoadSetZipfLive(t *testing.T) {
	t.Parallel()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Query().Get("id") }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Keys = 1000 })
	for _, bad := range []float64{1, 0.5, -2, 10} {
		if err := r.load.SetZipf(bad); err == nil {
			t.Errorf("SetZipf(%g) accepted", bad)
		}
	}
	if err := r.load.SetZipf(2); err != nil || r.load.Zipf() != 2 {
		t.Fatalf("SetZipf(2): %v, now %g", err, r.load.Zipf())
	}
	tot := r.run(t, 2*time.Second)
	if hot := h.counts()["0"]; float64(hot) < 0.4*float64(tot.Sent) {
		t.Errorf("with zipf 2 key 0 got %d of %d requests, want over 40%%", hot, tot.Sent)
	}
}

// Fetch and Observe replace the request and see each one's latency and tag.
func TestLoadFetchAndObserve(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tags := map[string]int{}
	r := ctNewLoadRig(t, ctOK, func(c *LoadConfig) {
		c.Entry = nil
		c.Fetch = func(ctx context.Context, _ *http.Client, op Op, key, user int) (string, string) {
			if key%2 == 0 {
				return "", "even"
			}
			return ReasonRefused, "odd"
		}
		c.Observe = func(op Op, key, user int, lat time.Duration, reason, tag string) {
			mu.Lock()
			defer mu.Unlock()
			if (tag == "even") != (reason == "") || lat < 0 {
				t.Errorf("observed %s with reason %q, latency %s", tag, reason, lat)
			}
			tags[tag]++
		}
	})
	tot := r.run(t, time.Second)
	mu.Lock()
	defer mu.Unlock()
	if int64(tags["even"]) != tot.OK || int64(tags["odd"]) != tot.Failed || tot.OK == 0 || tot.Failed == 0 {
		t.Errorf("observed %v, totals %+v", tags, tot)
	}
}

func TestLoadMix(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bad []string
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string {
		ok := r.Method == http.MethodGet
		if r.URL.Path == "/post" {
			b, _ := io.ReadAll(r.Body)
			ok = r.Method == http.MethodPost && len(b) > 0 && r.URL.Query().Get("user") != ""
		} else {
			ok = ok && r.URL.Query().Get("id") != ""
		}
		c, err := r.Cookie("uid")
		ok = ok && err == nil && len(c.Value) > 1 && c.Value[0] == 'u' && r.Header.Get("X-Scalelab-User") == c.Value
		if !ok {
			mu.Lock()
			bad = append(bad, r.Method+" "+r.URL.String())
			mu.Unlock()
		}
		return r.URL.Path
	}}
	mix := Mix{OpPage: 1, OpRead: 4, OpFeed: 3, OpWrite: 2}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Mix = mix })
	tot := r.run(t, 4*time.Second)
	counts := h.counts()
	want := map[string]float64{"/page": 0.1, "/read": 0.4, "/feed": 0.3, "/post": 0.2}
	sum := 0
	for _, n := range counts {
		sum += n
	}
	if int64(sum) != tot.Sent || len(counts) != len(want) {
		t.Fatalf("paths %v (sum %d), sent %d", counts, sum, tot.Sent)
	}
	for p, share := range want {
		got := float64(counts[p]) / float64(sum)
		if got < share-0.03 || got > share+0.03 {
			t.Errorf("%s: %.1f%% of requests, want %.0f%% ±3", p, 100*got, 100*share)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d malformed requests, e.g. %s", len(bad), bad[0])
	}
	// per-op stats agree with the handler
	for op, p := range map[Op]string{OpPage: "/page", OpRead: "/read", OpFeed: "/feed", OpWrite: "/post"} {
		ok, failed, q := r.load.OpStats(op)
		if ok != int64(counts[p]) || failed != 0 || q.N != ok {
			t.Errorf("OpStats(%s) = %d ok %d failed N %d; handler saw %d", op, ok, failed, q.N, counts[p])
		}
	}
}

func TestLoadSetMixLive(t *testing.T) {
	t.Parallel()
	h := &ctCounter{n: map[string]int{}, by: func(r *http.Request) string { return r.URL.Path }}
	r := ctNewLoadRig(t, h, func(c *LoadConfig) { c.Uniform = true; c.Rate = 400 })
	r.run(t, 2*time.Second, ctHook{time.Second, func() { r.load.SetMix(Mix{OpWrite: 1}) }})
	c := h.counts()
	// the hook switches the mix just after the generator enters second 1
	if c["/read"] < 400 || c["/read"] > 500 || c["/post"] < 300 || c["/post"] > 410 || len(c) != 2 {
		t.Fatalf("reads then writes: %v", c)
	}
	// a mix with no positive weight means all reads
	r.load.SetMix(Mix{OpWrite: 0, OpFeed: -1})
	if m := r.load.mix.Load(); len(m.ops) != 1 || m.ops[0] != OpRead {
		t.Fatalf("empty mix = %+v, want all reads", m)
	}
}
