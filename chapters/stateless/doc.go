// Package stateless is chapter 7: sessions in one web server's memory
// behind a sticky load balancer, a shared session store, and JWTs — logins
// lost, kept and revoked, measured.
package stateless
