// Package web is the web tier: stateless web servers that reach their data
// through a store, and the one-box app server that does web and data work
// on one machine. It comes after sqldb.
package web
