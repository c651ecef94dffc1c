// Package dns is DNS over real UDP on loopback: an authoritative GeoDNS
// server (miekg/dns) that answers by the region a query comes from (its
// source address or its EDNS Client Subnet), health-checks each data
// center on the lab clock and takes a failed one out of its answers; and a
// small caching stub resolver, like an ISP's resolver or the OS cache, that
// keeps answers for their TTL on the lab clock. It depends on the engine
// core only.
package dns

import "scalelab/engine"

// The role and event kinds of this component.
const (
	RoleDNS engine.Role = "dns" // an authoritative DNS server

	EvDCDown engine.EventKind = "dc-down" // a DC failed its health checks
	EvDCUp   engine.EventKind = "dc-up"   // it passed them again
)

// Answer policies of the server.
const (
	// PolicyGeo answers with the nearest healthy DC of the query's region.
	PolicyGeo = "geo"
	// PolicyWeighted answers with a healthy DC drawn by weight.
	PolicyWeighted = "weighted"
)

// PolicyNames lists the server's policies.
func PolicyNames() []string { return []string{PolicyGeo, PolicyWeighted} }
