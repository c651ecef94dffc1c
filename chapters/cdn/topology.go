// The CDN chapter's topology: regions, files, the lab type, how a step
// builds it and the purge it carries out.

package cdn

import (
	"fmt"
	"net/http"
	"scalelab/chapters"
	"scalelab/chapters/internal/kit"
	"scalelab/engine/cdn"
	"strings"
	"sync"
	"time"

	"scalelab/assets"
	"scalelab/engine"
)

// The CDN chapter's load: browsers fetching a page's static files.
const cdnRate = 300

// cdnRegions: users in three regions; the origin is in the US. Distances
// are modelled round trips.
func cdnRegions() []cdn.Region {
	return []cdn.Region{
		{Name: "us", Share: 40, ToEdge: 8 * time.Millisecond, ToOrigin: 20 * time.Millisecond},
		{Name: "eu", Share: 35, ToEdge: 8 * time.Millisecond, ToOrigin: 90 * time.Millisecond},
		{Name: "ap", Share: 25, ToEdge: 8 * time.Millisecond, ToOrigin: 170 * time.Millisecond},
	}
}

// edgeToOrigin is each edge's modelled round trip to the origin.
var edgeToOrigin = map[string]time.Duration{"us": 10 * time.Millisecond, "eu": 80 * time.Millisecond, "ap": 160 * time.Millisecond}

// How often a page load asks for each file.
func cdnFiles() []cdn.FileShare {
	return []cdn.FileShare{{Name: "app.css", Weight: 30}, {Name: "app.js", Weight: 30}, {Name: "logo.png", Weight: 25}, {Name: "intro-001.ts", Weight: 15}}
}

// cdnLab is one step's topology.
type cdnLab struct {
	sys      *engine.System
	origin   *cdn.Origin
	edges    []*cdn.Edge
	browsers *cdn.Browsers
	gauge    *kit.Ring
	watch    *kit.Ring
	lead     []string
	ringsMu  sync.Mutex
	rings    map[string]*kit.Ring // per edge, for the gauges

	// Watch's state between snapshots
	grow       kit.Growth                 // ok and failed per region, between snapshots
	originDown map[time.Duration][2]int64 // ok, failed when the origin's death outlived the TTL, by kill time
}

type cdnTune struct {
	route, ttl string
	knobs      []string
	lead       []string // the gauges the step shows first
}

func buildCDN(sys *engine.System, opt chapters.Options, tune cdnTune) (*cdnLab, error) {
	var files []cdn.StaticFile
	for _, f := range assets.StaticFiles() {
		files = append(files, cdn.StaticFile{Name: f.Name, Type: f.Type, Body: f.Body, Text: f.Text})
	}
	ttl, err := time.ParseDuration(tune.ttl)
	if err != nil {
		return nil, fmt.Errorf("edge ttl: %w", err)
	}
	origin, err := cdn.NewOrigin(sys, cdn.OriginConfig{Name: "origin", Size: "medium", Work: 5 * time.Millisecond, Files: files, TTL: ttl})
	if err != nil {
		return nil, err
	}
	if err := sys.AddNode(origin); err != nil {
		return nil, err
	}
	l := &cdnLab{sys: sys, origin: origin, gauge: kit.NewRing(20 * time.Second), watch: kit.NewRing(30 * time.Second), lead: tune.lead,
		originDown: map[time.Duration][2]int64{}}
	for _, reg := range cdnRegions() {
		name := "edge-" + reg.Name
		link := sys.AddLink(name, "origin")
		link.SetLatency(edgeToOrigin[reg.Name])
		e, err := cdn.NewEdge(sys, cdn.EdgeConfig{Name: name, Region: reg.Name, Size: "large", Work: 500 * time.Microsecond, Origin: origin, Link: link})
		if err != nil {
			return nil, err
		}
		if err := sys.AddNode(e); err != nil {
			return nil, err
		}
		l.edges = append(l.edges, e)
	}
	l.browsers = cdn.NewBrowsers(sys.Clock, origin, l.edges, cdnRegions(), cdnFiles())
	l.browsers.SetCDN(tune.route == "cdn")
	l.knobs(tune)
	sys.Handle(cdn.ActDeploy, func(engine.Action) error { origin.Deploy(); return nil })
	sys.Handle(cdn.ActPurge, func(engine.Action) error { return l.purge() })
	sys.AddGauges(l.gauges)

	cfg := engine.DefaultLoadConfig()
	cfg.Rate, cfg.Seed, cfg.Mix = cdnRate, opt.Seed, engine.Mix{engine.OpAsset: 1}
	if opt.Rate > 0 {
		cfg.Rate = opt.Rate
	}
	cfg.Keys, cfg.Users = 100, 3000
	cfg.Fetch, cfg.Observe = l.browsers.Fetch, l.browsers.Observe
	ld, err := engine.NewLoad(cfg, sys.Clock)
	if err != nil {
		return nil, err
	}
	sys.SetLoad(ld)
	return l, nil
}

// purge calls every edge's purge API (an HTTP PURGE of everything).
func (l *cdnLab) purge() error {
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	var done []string
	for _, e := range l.edges {
		if e.State() != engine.StateUp {
			continue
		}
		req, err := http.NewRequestWithContext(l.sys.Context(), "PURGE", e.URL()+"/*", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("purge %s: %w", e.Name(), err)
		}
		resp.Body.Close()
		done = append(done, e.Name())
	}
	l.sys.Events.Add(cdn.EvPurge, "cdn", engine.Textf("cdn.purged", "every copy dropped on %s", strings.Join(done, ", ")))
	return nil
}

func cdnStep(tune cdnTune) func(sys *engine.System, opt chapters.Options) (*cdnLab, error) {
	return func(sys *engine.System, opt chapters.Options) (*cdnLab, error) { return buildCDN(sys, opt, tune) }
}
