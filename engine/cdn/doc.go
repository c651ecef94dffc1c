// Package cdn is the content delivery network: an origin serving real
// static files with real Cache-Control, edges that cache by s-maxage near
// the users, collapse misses, answer PURGE and serve stale-if-error, and the
// browsers that fetch from their region's edge or the origin. It owns the
// deploy and purge actions. It depends on the engine core only.
package cdn
