// Package catalog is the course: the ordered list of chapters, in one place.
// The binary gives it to the lab and the headless runner; nothing else
// imports the chapter packages.
package catalog

import (
	"scalelab/chapters"
	"scalelab/chapters/cache"
	"scalelab/chapters/cdn"
	"scalelab/chapters/datacenters"
	"scalelab/chapters/loadbalancer"
	"scalelab/chapters/queue"
	"scalelab/chapters/replication"
	"scalelab/chapters/scaling"
	"scalelab/chapters/sharding"
	"scalelab/chapters/stateless"
	"scalelab/chapters/tiers"
)

// All returns the chapters in order. Each call returns fresh values.
func All() []*chapters.Chapter {
	return []*chapters.Chapter{tiers.Tiers(), scaling.Scaling(), loadbalancer.LoadBalancer(), replication.Replication(), cache.Cache(), cdn.CDN(), stateless.Stateless(), datacenters.Datacenters(), queue.Queue(), sharding.Sharding()}
}

// Find returns a chapter by id or number.
func Find(s string) (*chapters.Chapter, error) { return chapters.Find(All(), s) }
