package cache

import (
	"io"
	"net/http"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cache"
	"scalelab/engine/kv"
	"scalelab/engine/sqldb"
	"scalelab/engine/web"
	"sort"
	"testing"
	"time"

	"scalelab/engine"
)

// BenchmarkCachePath measures what the cache path adds to a request with no
// modelled delay anywhere: web-1 answers a page (no data) and a read that
// hits the cache (a Redis GET through go-redis to miniredis, plus the
// store's bookkeeping); web-2 answers the same read from SQLite. It reports
// the p50 of each and the cache path's added p50 (hit minus page).
func BenchmarkCachePath(b *testing.B) {
	sys, err := engine.NewSystem(1)
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	db, err := kit.AddDB(sys, "db-1", "2xlarge", engine.WorkModel{}, sqldb.DefaultShape(), 1)
	if err != nil {
		b.Fatal(err)
	}
	node, err := kv.NewCacheNode(sys, "cache-1")
	if err != nil {
		b.Fatal(err)
	}
	if err := sys.AddNode(node); err != nil {
		b.Fatal(err)
	}
	c1, err := cache.NewCache(sys, node, cache.CacheConfig{MaxMemory: 4 << 20, Policy: cache.EvictLRU, Samples: 5})
	if err != nil {
		b.Fatal(err)
	}
	dbc := sqldb.NewDBClient(sys, db, sys.AddLink("web-1", "db-1"), nil)
	store := cache.NewCacheStore(c1, dbc, sys.Clock, time.Hour)
	cached, err := web.NewWebNode(sys, web.WebConfig{Name: "web-1", Size: "2xlarge", Store: func() engine.Store { return store }})
	if err != nil {
		b.Fatal(err)
	}
	if err := sys.AddNode(cached); err != nil {
		b.Fatal(err)
	}
	direct, err := kit.AddWeb(sys, "web-2", "2xlarge", engine.WorkModel{}, false, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	sys.Start()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer c.CloseIdleConnections()
	get := func(url string) time.Duration {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", url, resp.StatusCode)
		}
		return time.Since(start)
	}
	page, hit, sql := "http://"+cached.Addr()+"/page?id=1", "http://"+cached.Addr()+"/read?id=1", "http://"+direct.Addr()+"/read?id=1"
	get(hit) // the miss that fills the key
	var pages, hits, sqls []time.Duration
	for b.Loop() {
		pages = append(pages, get(page))
		hits = append(hits, get(hit))
		sqls = append(sqls, get(sql))
	}
	if st := store.Stats(); st.Misses != 1 {
		b.Fatalf("the read should hit after the first: %+v", st)
	}
	p50 := func(ds []time.Duration) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[len(ds)/2].Microseconds())
	}
	pp, hp, sp := p50(pages), p50(hits), p50(sqls)
	b.ReportMetric(pp, "page-p50-µs")
	b.ReportMetric(hp, "hit-p50-µs")
	b.ReportMetric(sp, "sql-read-p50-µs")
	b.ReportMetric(hp-pp, "cache-added-p50-µs")
}
