package queue

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkEnqueueConsumeAck is the broker's round trip for messages:
// XADD by four producers (web servers' requests), XREADGROUP in batches of
// up to 100 by two consumers, each message then ACKed and deleted
// (XACK + XDEL) on its own, as a worker does, all at once.
func BenchmarkEnqueueConsumeAck(b *testing.B) {
	_, q := newQueue(b, 1, nil)
	ctx := context.Background()
	const producers, consumers = 4, 2
	var acked atomic.Int64
	var wg sync.WaitGroup
	for c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for acked.Load() < int64(b.N) {
				xs, err := q.b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: q.cfg.Group, Consumer: fmt.Sprint("bench-", c), Streams: []string{q.cfg.Stream, ">"}, Count: 100, Block: -1}).Result()
				if err != nil && err != redis.Nil {
					b.Error(err)
					return
				}
				for _, s := range xs {
					for _, x := range s.Messages {
						if err := q.ack(ctx, parseMsg(s.Stream, x)); err != nil {
							b.Error(err)
							return
						}
						acked.Add(1)
					}
				}
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	var pw sync.WaitGroup
	for p := range producers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for i := p; i < b.N; i += producers {
				if _, err := q.Enqueue(ctx, Msg{Order: int64(i), Seq: 1, Kind: "order", Amount: 100}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	pw.Wait()
	wg.Wait()
	b.ReportMetric(float64(acked.Load())/time.Since(start).Seconds(), "msgs/s")
	if st := stats(q); st.Acked != int64(b.N) || st.Depth != 0 {
		b.Fatalf("acked %d of %d, depth %d", st.Acked, b.N, st.Depth)
	}
}

// BenchmarkOrderPath is a POST /order through a real front and client,
// with the order's slow part queued (an XADD on the request path) and with
// no queue at all: the p50 difference is the queue's cost to a request.
func BenchmarkOrderPath(b *testing.B) {
	for _, queued := range []bool{false, true} {
		b.Run(fmt.Sprintf("queued=%v", queued), func(b *testing.B) {
			sys, q := newQueue(b, 1, nil)
			cfg := FrontConfig{Name: "web-1", Size: "2xlarge"}
			if queued {
				cfg.Queue = q
			}
			f, err := NewFront(sys, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := sys.AddNode(f); err != nil {
				b.Fatal(err)
			}
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			b.Cleanup(c.CloseIdleConnections)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				resp, err := c.Post(fmt.Sprintf("%s/order?id=%d&amount=100", f.URL(), i), "", nil)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Fatalf("status %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}
