// Package kit has the helpers the chapter packages share: building common
// nodes, the load, knobs, gauges and fact helpers.
package kit
