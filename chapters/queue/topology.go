// The queue chapter's topology: a web server taking orders, a Redis
// Streams broker, and a work queue's workers or an event log's consumer
// services.

package queue

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"scalelab/chapters"
	"scalelab/engine"
	mq "scalelab/engine/queue"
)

// The chapter's load: 20 orders/s from 500 users.
const (
	orderRate  = 20
	orderUsers = 500
	// slowPart is an order's modelled slow work: an email, an image, a
	// payment call.
	slowPart = 200 * time.Millisecond
	maxWork  = 8 // workers the queue.workers knob goes up to
)

// The event log's services, each with its modelled time per event.
var services = []mq.GroupConfig{
	{Name: "orders", Pace: 4 * time.Millisecond, Jitter: 2 * time.Millisecond},
	{Name: "payments", Pace: 8 * time.Millisecond, Jitter: 4 * time.Millisecond},
	{Name: "notifications", Pace: 12 * time.Millisecond, Jitter: 6 * time.Millisecond},
	{Name: "shipping", Pace: 10 * time.Millisecond, Jitter: 5 * time.Millisecond},
	{Name: "analytics", Pace: 12 * time.Millisecond, Jitter: 4 * time.Millisecond},
}

// recommendations joins the log later and replays its history.
var recommendations = mq.GroupConfig{Name: "recommendations", Pace: 4 * time.Millisecond, Jitter: 2 * time.Millisecond}

// tune is what differs between steps.
type tune struct {
	work    bool   // a work queue behind the web server
	mode    string // the slow part: inline or queued
	workers int
	idem    bool
	rate    float64
	log     bool // an event log
	groups  []mq.GroupConfig
	events  []string // each order's events on the log
	knobs   []string
	lead    []string
}

// lab is one step's topology.
type lab struct {
	sys    *engine.System
	broker *mq.Broker
	front  *mq.Front
	q      *mq.WorkQueue // nil without a work queue
	log    *mq.EventLog  // nil without an event log
	tn     tune
	orders atomic.Int64
	book   *book
	depth  *series
	lead   []string
	w      watchState
}

func build(sys *engine.System, opt chapters.Options, tn tune) (*lab, error) {
	l := &lab{sys: sys, tn: tn, book: newBook(), depth: newSeries(), lead: tn.lead}
	l.w.init()
	b, err := mq.NewBroker(sys, "broker")
	if err != nil {
		return nil, err
	}
	l.broker = b
	fc := mq.FrontConfig{Name: "web-1", Size: "large", Web: 2 * time.Millisecond, Slow: slowPart, Events: tn.events}
	if tn.work {
		cfg := mq.DefaultWorkConfig()
		cfg.Work = slowPart
		if l.q, err = mq.NewWorkQueue(sys, b, cfg); err != nil {
			return nil, err
		}
		l.q.SetIdempotent(tn.idem)
		if err := l.setWorkers(tn.workers); err != nil {
			return nil, err
		}
		fc.Queue = l.q
	}
	if tn.log {
		l.log = mq.NewEventLog(sys, b, "orders")
		for i, g := range tn.groups {
			g.Seed = opt.Seed + int64(i)
			if _, err := l.log.AddGroup(g); err != nil {
				return nil, err
			}
		}
		fc.Log = l.log
		l.log.Expect(recommendations.Name)
		sys.HandleChecked(engine.ActAdd, func(a engine.Action, _ []engine.Node) error {
			if a.Target != recommendations.Name {
				return fmt.Errorf("add %q: this step adds only %s: %w", a.Target, recommendations.Name, engine.ErrNotSupported)
			}
			if l.log.Group(recommendations.Name) != nil {
				return fmt.Errorf("%s is already reading the log: %w", recommendations.Name, engine.ErrNotSupported)
			}
			return nil
		}, func(engine.Action) error {
			g := recommendations
			g.Seed = opt.Seed + 99
			if _, err := l.log.AddGroup(g); err != nil {
				return err
			}
			kept, _ := l.log.Kept()
			sys.Events.Add(engine.EvAdd, g.Name, engine.Textf("queue.joined", "%d kept events to replay from the start", kept))
			return nil
		})
	}
	if l.front, err = mq.NewFront(sys, fc); err != nil {
		return nil, err
	}
	l.front.SetMode(tn.mode)
	if err := sys.AddNode(l.front); err != nil {
		return nil, err
	}
	b.Node().Describe(l.brokerDetail, l.brokerLines)
	if err := l.knobs(tn); err != nil {
		return nil, err
	}
	sys.AddGauges(l.gauges)
	sys.AddChart(l.chart)

	lc := engine.DefaultLoadConfig()
	lc.Rate, lc.Seed, lc.Users = orderRate, opt.Seed, orderUsers
	if tn.rate > 0 {
		lc.Rate = tn.rate
	}
	if opt.Rate > 0 {
		lc.Rate = opt.Rate
	}
	lc.Mix = engine.Mix{engine.OpWrite: 1}
	lc.Fetch, lc.Observe = l.fetch, l.observe
	ld, err := engine.NewLoad(lc, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

func step(tn tune) func(sys *engine.System, opt chapters.Options) (*lab, error) {
	return func(sys *engine.System, opt chapters.Options) (*lab, error) { return build(sys, opt, tn) }
}

// fetch places one order: POST /order with a new order id.
func (l *lab) fetch(ctx context.Context, c *http.Client, _ engine.Op, key, _ int) (string, string) {
	id := l.orders.Add(1)
	amount := 500 + (key*37)%9500
	url := l.front.URL() + "/order?id=" + strconv.FormatInt(id, 10) + "&amount=" + strconv.Itoa(amount)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return engine.ReasonOther, ""
	}
	resp, err := c.Do(req)
	if err != nil {
		return engine.Classify(err, context.Cause(ctx)), ""
	}
	return engine.Finish(ctx, resp), ""
}

// observe books each finished order by the lab second it was sent in.
func (l *lab) observe(_ engine.Op, _, _ int, lat time.Duration, reason, _ string) {
	l.book.add(l.sys.Clock.Now()-lat, lat, reason == "")
}

// setWorkers adds or removes workers to have n.
func (l *lab) setWorkers(n int) error {
	ws := l.q.Workers()
	for i := len(ws); i < n; i++ {
		if _, err := l.q.AddWorker(l.sys.NextName("worker")); err != nil {
			return err
		}
	}
	for i := len(ws) - 1; i >= n; i-- {
		if err := l.q.RemoveWorker(ws[i]); err != nil {
			return err
		}
	}
	return nil
}
