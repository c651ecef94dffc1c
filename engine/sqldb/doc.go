// Package sqldb is the SQL database: the lab's users, posts and follows in
// SQLite files (modernc.org/sqlite, WAL), and a database server that answers
// data requests over HTTP on a modelled machine. It depends on the engine
// core only.
package sqldb
