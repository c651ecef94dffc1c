package cdn

import (
	"scalelab/engine"
	"strconv"
	"strings"
	"time"
)

// Roles of a CDN.
const (
	RoleOrigin engine.Role = "origin" // the server that holds the static files
	RoleEdge   engine.Role = "edge"   // a CDN edge (point of presence) near users
)

// Action and event kinds of a CDN.
const (
	// ActDeploy puts a new version of the static files on the origin.
	ActDeploy engine.Kind = "deploy"
	// ActPurge asks every CDN edge to drop its copies.
	ActPurge engine.Kind = "purge"

	EvDeploy engine.EventKind = "deploy"
	EvPurge  engine.EventKind = "purge"
)

// Headers between the lab's browsers, edges and origin.
const (
	HeaderVersion = "X-Asset-Version" // the release a file belongs to
	HeaderCache   = "X-Cache"         // HIT, MISS or STALE, from an edge
	headerEdge    = "X-Scalelab-Edge" // an edge filling its cache
)

// CacheControl is what a shared cache reads from Cache-Control.
type CacheControl struct {
	TTL          time.Duration // s-maxage, else max-age
	StaleIfError time.Duration
	NoStore      bool // no-store or private: a shared cache must not keep it
}

// ParseCacheControl reads a Cache-Control header as a shared cache (a CDN)
// does: s-maxage wins over max-age; private and no-store forbid storing.
func ParseCacheControl(h string) CacheControl {
	var cc CacheControl
	maxAge, sMaxAge := -1, -1
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		n, err := strconv.Atoi(strings.Trim(v, `"`))
		switch {
		case k == "no-store" || k == "private" || k == "no-cache":
			cc.NoStore = true
		case k == "max-age" && err == nil:
			maxAge = n
		case k == "s-maxage" && err == nil:
			sMaxAge = n
		case k == "stale-if-error" && err == nil:
			cc.StaleIfError = time.Duration(n) * time.Second
		}
	}
	switch {
	case sMaxAge >= 0:
		cc.TTL = time.Duration(sMaxAge) * time.Second
	case maxAge >= 0:
		cc.TTL = time.Duration(maxAge) * time.Second
	}
	return cc
}
