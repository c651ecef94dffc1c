// Package loadbalancer is chapter 3: one public entry, private web servers,
// balancing policies, health checks and retries, adding and draining
// servers live.
package loadbalancer
