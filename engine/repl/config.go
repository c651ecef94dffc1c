// The cluster's configuration and its live knobs.

package repl

import (
	"fmt"
	"time"

	"scalelab/engine"
	"scalelab/engine/sqldb"
)

// ClusterConfig describes a replicated database group and its failover
// monitor. Field comments name the trade-off each knob makes.
type ClusterConfig struct {
	// Replicas is how many replicas follow the primary (default 2). More
	// replicas serve more reads and survive more failures.
	Replicas int
	Size     string
	Work     engine.WorkModel
	Shape    sqldb.DataShape
	Seed     int64
	// Mode is async (fast writes; a failover can lose acknowledged writes)
	// or semi-sync (a write waits for a replica; none are lost unless it
	// fell back to async).
	Mode string
	// WaitPoint is where a semi-sync write waits for a replica:
	// after-sync (MySQL's default since 5.7, "lossless": the write is in the
	// replication log and shipped, but no reader sees it until a replica
	// has it) or after-commit (the write is committed and readable first,
	// so a reader can see a write the failover then loses). It changes
	// nothing in async mode.
	WaitPoint string
	// SemiSyncTimeout is how long a semi-sync write waits for a replica
	// before the primary falls back to async (default 1s, so the lab's
	// fallbacks are seen; MySQL's rpl_semi_sync_source_timeout defaults to
	// 10s). Longer holds writes longer when the replicas are gone.
	SemiSyncTimeout time.Duration
	// ReadYourWrites is the routers' read-your-writes option at the start
	// (RYWOff, RYWPrimary or RYWWait; the repl.ryw knob changes it live).
	ReadYourWrites string
	// LinkDelay is the modelled one-way delay of replication links; it is
	// where replication lag comes from.
	LinkDelay time.Duration
	// ApplyCost is the modelled time a replica spends applying one entry.
	ApplyCost time.Duration
	// Interval and Misses set the failover monitor: a primary that misses
	// Misses heartbeats Interval apart is declared down (default 1s × 3).
	// Shorter detects faster and risks promoting on a blip.
	Interval time.Duration
	Misses   int
	// MinReplicas, when > 0, makes the primary refuse writes unless that
	// many replicas have streamed from it within MinReplicasWindow (as
	// Redis' min-replicas-to-write): a cut-off primary stops taking writes
	// that could never be replicated. The window must be shorter than the
	// monitor's fastest detection (Interval × (Misses-1)), or the old
	// primary still takes writes after the promotion.
	MinReplicas       int
	MinReplicasWindow time.Duration
	// ReseedAfter is how many positions behind a restarting replica may be
	// and still catch up by streaming; further behind, it is seeded from a
	// fresh copy of the primary first (default 3000).
	ReseedAfter int64
}

// DefaultClusterConfig is a primary and two replicas, async, with a
// monitor checking every second and failing over after three misses.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Replicas: 2, Size: "xlarge", Work: engine.WorkModel{Read: time.Millisecond, Write: 2 * time.Millisecond}, Shape: sqldb.DefaultShape(),
		Seed: 1, Mode: ModeAsync, WaitPoint: WaitAfterSync, SemiSyncTimeout: time.Second, ReadYourWrites: RYWOff, Interval: time.Second, Misses: 3, MinReplicasWindow: time.Second,
		ReseedAfter: 3000}
}

// Validate checks a cluster configuration.
func (c ClusterConfig) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("replicas %d is not between 1 and 5", c.Replicas)
	case c.Mode != ModeAsync && c.Mode != ModeSemiSync:
		return fmt.Errorf("mode %q is not async or semi-sync", c.Mode)
	case c.WaitPoint != WaitAfterSync && c.WaitPoint != WaitAfterCommit:
		return fmt.Errorf("wait point %q is not after-sync or after-commit", c.WaitPoint)
	case c.ReadYourWrites != RYWOff && c.ReadYourWrites != RYWPrimary && c.ReadYourWrites != RYWWait:
		return fmt.Errorf("read-your-writes %q is not off, primary or wait", c.ReadYourWrites)
	case c.SemiSyncTimeout <= 0:
		return fmt.Errorf("semi-sync timeout %s must be positive", c.SemiSyncTimeout)
	case c.Interval <= 0 || c.Misses < 1:
		return fmt.Errorf("the monitor needs an interval and at least one miss")
	case c.MinReplicas < 0 || c.MinReplicas > c.Replicas:
		return fmt.Errorf("min-replicas %d is not between 0 and %d", c.MinReplicas, c.Replicas)
	case c.ReseedAfter < 1:
		return fmt.Errorf("reseed-after %d must be at least 1", c.ReseedAfter)
	}
	return nil
}

func (c *Cluster) knobs() {
	c.mu.Lock()
	mode, wait, delay, apply, ryw, recover, minReplicas := c.mode, c.waitPoint, durName(c.linkDelay), durName(c.applyCost), c.ryw, c.recover, fmt.Sprint(c.minReplicas)
	c.mu.Unlock()
	c.sys.AddKnob(engine.NewKnob("repl.mode", []string{ModeAsync, ModeSemiSync}, mode, func(v string) error {
		c.mu.Lock()
		c.mode = v
		c.mu.Unlock()
		return nil
	}))
	// writes already waiting keep the wait point they started with
	c.sys.AddKnob(engine.NewKnob("repl.wait-point", []string{WaitAfterSync, WaitAfterCommit}, wait, func(v string) error {
		c.mu.Lock()
		c.waitPoint = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.delay", []string{"0ms", "50ms", "200ms", "1s"}, delay, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.linkDelay = d
		for id, l := range c.links {
			if c.isReplLink(id) {
				l.SetLatency(d)
			}
		}
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.apply", []string{"0ms", "5ms", "15ms"}, apply, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.applyCost = d
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.ryw", []string{RYWOff, RYWPrimary, RYWWait}, ryw, func(v string) error {
		c.mu.Lock()
		routers := append([]*Router(nil), c.routers...)
		c.mu.Unlock()
		for _, r := range routers {
			if err := r.SetRYW(v); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.ryw = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.recover", []string{"hold", "replay"}, recover, func(v string) error {
		if v == "replay" {
			if _, err := c.Replay(c.sys.Context()); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.recover = v
		c.mu.Unlock()
		return nil
	}))
	c.sys.AddKnob(engine.NewKnob("repl.min-replicas", []string{"0", "1"}, minReplicas, func(v string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.minReplicas = int(v[0] - '0')
		return nil
	}))
}

func durName(d time.Duration) string {
	if d == 0 {
		return "0ms"
	}
	return d.String()
}
