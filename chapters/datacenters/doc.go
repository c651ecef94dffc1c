// Package datacenters is chapter 8: two data centers on loopback addresses
// of their own, a GeoDNS server over real UDP sending each region's users to
// the nearest, a data center's death waiting on the record's TTL, data
// replicated across the ocean and a traffic shift by weighted answers — all
// measured.
package datacenters
