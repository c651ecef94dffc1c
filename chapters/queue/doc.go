// Package queue is chapter 9: a work queue that absorbs a spike and
// redelivers what a dead worker held, and an event log that many services
// read at their own pace and replay, on Redis Streams.
package queue
