// Package session is the session component: where a logged-in user's
// session lives — in a web server's memory, in a shared Redis store, or in
// the client as a signed JWT that any web server can verify on its own — and
// the virtual users who log in and carry their session from request to
// request. It comes after kv, web and sqldb.
package session
