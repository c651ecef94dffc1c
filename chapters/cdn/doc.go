// Package cdn is chapter 6: static files from edges near the users, TTLs,
// origin offload, deploys with purge or versioned URLs, an edge's and the
// origin's death.
package cdn
