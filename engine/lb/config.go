// The load balancer's configuration: LBConfig, HealthConfig, defaults and
// validation.

package lb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// HealthConfig sets the load balancer's failure detection.
type HealthConfig struct {
	// Enabled turns on active health checks and passive failure detection.
	// Off, a dead target keeps getting its share of the traffic.
	Enabled bool
	// Interval is the lab time between checks of a target (default 1s).
	// Shorter finds a dead target sooner and costs more check traffic.
	Interval time.Duration
	// Timeout is the lab time a check may take (default 500ms). Shorter
	// ejects slow targets as if they were dead.
	Timeout time.Duration
	// Rise is how many checks in a row must pass to put a target back
	// (default 2). Higher avoids flapping and delays recovery.
	Rise int
	// Fall is how many failures in a row take a target out (default 2), for
	// checks and for connection failures of real requests alike. Lower
	// reacts faster and ejects on a single blip.
	Fall int
	// Path is what a check GETs (default "/health").
	Path string
}

// LBConfig describes a load balancer.
type LBConfig struct {
	// Name is the node's name, e.g. "lb-1".
	Name string
	// Policy picks a target per request: round-robin, least-conn, p2c (two
	// random choices), hash-cookie (the "uid" cookie: sticky users),
	// hash-ip (the client's address) or sticky-cookie (a SERVERID cookie
	// the load balancer sets, naming the target).
	Policy string
	Health HealthConfig
	// Retries (0–2) is how many other targets a request may try when a
	// target refuses or drops the connection before answering. Retries hide
	// a dead target from users; each costs the latency of the failed try.
	Retries int
	// Seed drives the random choices of p2c.
	Seed int64
	// Listen is the address to listen on ("127.0.0.1:0" when empty).
	Listen string
}

// DefaultLBConfig is round robin with health checks on and one retry.
func DefaultLBConfig(name string) LBConfig {
	return LBConfig{
		Name:    name,
		Policy:  PolicyRoundRobin,
		Health:  HealthConfig{Enabled: true, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Path: "/health"},
		Retries: 1,
		Seed:    1,
	}
}

// withDefaults fills zero health fields.
func (c LBConfig) withDefaults() LBConfig {
	h := &c.Health
	if h.Interval == 0 {
		h.Interval = time.Second
	}
	if h.Timeout == 0 {
		h.Timeout = 500 * time.Millisecond
	}
	if h.Rise == 0 {
		h.Rise = 2
	}
	if h.Fall == 0 {
		h.Fall = 2
	}
	if h.Path == "" {
		h.Path = "/health"
	}
	if c.Policy == "" {
		c.Policy = PolicyRoundRobin
	}
	return c
}

// Validate checks a configuration; zero health fields mean their defaults.
func (c LBConfig) Validate() error {
	h := c.Health
	switch {
	case c.Name == "":
		return errors.New("load balancer has no name")
	case c.Policy != "" && !slices.Contains(PolicyNames(), c.Policy):
		return fmt.Errorf("%s: policy %q is not one of %s", c.Name, c.Policy, strings.Join(PolicyNames(), ", "))
	case c.Retries < 0 || c.Retries > 2:
		return fmt.Errorf("%s: retries %d is not between 0 and 2", c.Name, c.Retries)
	case h.Interval < 0 || h.Timeout < 0:
		return fmt.Errorf("%s: health interval and timeout must not be negative", c.Name)
	case h.Rise < 0 || h.Fall < 0:
		return fmt.Errorf("%s: health rise and fall must not be negative", c.Name)
	case h.Path != "" && !strings.HasPrefix(h.Path, "/"):
		return fmt.Errorf("%s: health path %q must start with /", c.Name, h.Path)
	}
	return nil
}
