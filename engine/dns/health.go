// The server's health checks of the DCs: an HTTP GET of each DC's health
// URL every Interval on the lab clock; Fall failures in a row take a DC
// out of the answers, Rise passes put it back. The checks run apart from
// the server's process, as a DNS provider's checkers do: they go on while
// the server is down, and it comes back knowing what they found.

package dns

import (
	"context"
	"io"
	"net"
	"net/http"
	"scalelab/engine"
	"sync/atomic"
	"time"
)

// dcState is what the health checks know of one DC.
type dcState struct {
	healthy  atomic.Bool
	checking atomic.Bool // a check is in flight
	// passes and fails are the current streaks; under Server.hmu
	passes, fails int
}

// startChecks runs the checks on the lab clock until sys closes, and
// closes their connections then.
func (s *Server) startChecks() {
	s.checks = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     10 * time.Second,
		DisableCompression:  true,
	}
	s.sys.OnClose(func() error {
		s.checks.CloseIdleConnections()
		return nil
	})
	s.sys.Go(func(ctx context.Context) {
		s.sys.Clock.Every(ctx, s.cfg.Interval, func(time.Duration) { s.checkAll(ctx) })
	})
}

// checkAll starts a check of every DC that has none in flight, so a slow
// DC never delays the others.
func (s *Server) checkAll(ctx context.Context) {
	for i, st := range s.dcs {
		if !st.checking.CompareAndSwap(false, true) {
			continue
		}
		s.sys.Go(func(ctx context.Context) {
			defer st.checking.Store(false)
			s.check(ctx, i)
		})
	}
}

// check asks DC i's health URL once and counts the result.
func (s *Server) check(ctx context.Context, i int) {
	d, st := s.cfg.DCs[i], s.dcs[i]
	url := ""
	if d.Health != nil {
		url = d.Health()
	}
	pass := false
	if url != "" {
		cctx, cancel := s.sys.Clock.WithTimeout(ctx, s.cfg.Timeout)
		pass = s.probe(cctx, url)
		cancel()
	}
	if ctx.Err() != nil {
		return // the lab is closing: a cancelled check says nothing
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if pass {
		st.fails = 0
		st.passes++
		if !st.healthy.Load() && st.passes >= s.cfg.Rise {
			st.healthy.Store(true)
			s.sys.Events.Add(EvDCUp, s.Name(), engine.Textf("dns.dc_up", "%s passed %s: back in answers",
				d.Name, engine.Plural(st.passes, "health check")))
		}
		return
	}
	st.passes = 0
	st.fails++
	if st.healthy.Load() && st.fails >= s.cfg.Fall {
		st.healthy.Store(false)
		s.sys.Events.Add(EvDCDown, s.Name(), engine.Textf("dns.dc_down", "%s failed %s: taken out of answers",
			d.Name, engine.Plural(st.fails, "health check")))
	}
}

// probe reports whether url answered 2xx within ctx.
func (s *Server) probe(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := s.checks.RoundTrip(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300
}
