// HAProxy as the suite runs it: a config in a temporary directory, the
// process in the foreground, killed and its directory removed at the end.

package fidelity

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"scalelab/engine"
)

// webAddr is a web server's name and loopback address.
type webAddr struct{ name, addr string }

// haproxyBackend is one frontend/backend pair of the config.
type haproxyBackend struct{ name, balance string }

// haproxy is an HAProxy process the suite started, listening on one
// loopback port per backend, with its config in a temporary directory.
type haproxy struct {
	cmd    *exec.Cmd
	dir    string
	addrs  []string
	exited chan struct{}
}

// haproxyConfig is the config of one frontend per backend, each adding the
// lab's private-network token the way the lab's load balancer does.
func haproxyConfig(token string, webs []webAddr, backends []haproxyBackend, ports []int) string {
	var b strings.Builder
	b.WriteString(`global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
`)
	for i, be := range backends {
		fmt.Fprintf(&b, "\nfrontend fe_%s\n    bind 127.0.0.1:%d\n    default_backend be_%s\n", be.name, ports[i], be.name)
		fmt.Fprintf(&b, "\nbackend be_%s\n    balance %s\n    http-request set-header %s %s\n", be.name, be.balance, engine.HeaderVia, token)
		for _, w := range webs {
			fmt.Fprintf(&b, "    server %s %s\n", w.name, w.addr)
		}
	}
	return b.String()
}

// startHAProxy writes the config, runs haproxy in the foreground and waits
// until every frontend accepts connections.
func startHAProxy(ctx context.Context, path, token string, webs []webAddr, backends []haproxyBackend) (*haproxy, error) {
	var ports []int
	for range backends {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	dir, err := os.MkdirTemp("", "scalelab-fidelity-haproxy-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(haproxyConfig(token, webs, backends, ports)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(path, "-f", cfgPath, "-db")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	h := &haproxy{cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(h.exited)
	}()
	for _, p := range ports {
		h.addrs = append(h.addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, a := range h.addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-h.exited:
				out, _ := os.ReadFile(filepath.Join(dir, "haproxy.log"))
				h.Close()
				return nil, fmt.Errorf("haproxy exited: %s", strings.TrimSpace(string(out)))
			case <-wait.Done():
				h.Close()
				return nil, fmt.Errorf("haproxy did not listen on %s within 10 s", a)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return h, nil
}

// Close stops haproxy and removes its directory.
func (h *haproxy) Close() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	os.RemoveAll(h.dir)
}
