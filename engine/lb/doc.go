// Package lb is the load balancer: one public entry in front of private
// targets, with round robin, least connections, two random choices,
// hashing and sticky-cookie policies, active health checks (interval, rise, fall) and passive
// ejection, retries, and targets added, drained and removed live. It
// depends on the engine core only.
package lb
