// Package scaling is chapter 2: scale up to the largest machine and past
// its ceiling; the single server as a single point of failure; scale out
// without an entry point.
package scaling
