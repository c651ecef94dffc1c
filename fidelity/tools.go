package fidelity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tools are the real programs the suite compares against.
type Tools struct {
	RedisServer string // path of redis-server
	HAProxy     string // path of haproxy
}

// ErrMissing marks a real program that is not installed.
var ErrMissing = errors.New("missing program")

// FindTools looks the programs up on PATH (redisPath, when set, names
// redis-server). A missing one is an error that says how to install it.
func FindTools(redisPath string) (Tools, error) {
	var t Tools
	var missing []string
	if redisPath == "" {
		redisPath = "redis-server"
	}
	p, err := exec.LookPath(redisPath)
	if err != nil {
		missing = append(missing, "redis-server")
	}
	t.RedisServer = p
	if p, err = exec.LookPath("haproxy"); err != nil {
		missing = append(missing, "haproxy")
	}
	t.HAProxy = p
	if len(missing) > 0 {
		return t, fmt.Errorf("%w: %s not found on PATH; install with: sudo apt-get install %s (Debian/Ubuntu) or brew install %s (macOS)",
			ErrMissing, strings.Join(missing, " and "), strings.Join(missing, " "), strings.Join(missing, " "))
	}
	return t, nil
}

// Version is the first line a program prints of its version.
func Version(path string, arg string) string {
	out, err := exec.Command(path, arg).CombinedOutput()
	if err != nil {
		return filepath.Base(path)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	// "Redis server v=7.0.15 sha=…" and "HAProxy version 2.6.12-1 …"
	f := strings.Fields(line)
	switch {
	case len(f) >= 3 && f[0] == "Redis":
		return "redis-server " + strings.TrimPrefix(f[2], "v=")
	case len(f) >= 3 && f[0] == "HAProxy":
		return "HAProxy " + f[2]
	}
	return line
}

// Redis is a redis-server process the suite started, on a Unix socket in a
// temporary directory, with nothing saved to disk.
type Redis struct {
	cmd *exec.Cmd
	dir string
	rdb *redis.Client
}

// StartRedis starts redis-server with extra config directives ("maxmemory
// 1mb", ...) and waits until it answers.
func StartRedis(path string, directives ...string) (*Redis, error) {
	dir, err := os.MkdirTemp("", "scalelab-fidelity-redis-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "redis.sock")
	conf := []string{"port 0", "unixsocket " + sock, "save \"\"", "appendonly no", "dir " + dir}
	conf = append(conf, directives...)
	cmd := exec.Command(path, "-")
	cmd.Stdin = strings.NewReader(strings.Join(conf, "\n") + "\n")
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &Redis{cmd: cmd, dir: dir}
	r.rdb = redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1, PoolSize: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if err := r.rdb.Ping(ctx).Err(); err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			log := r.logTail()
			r.Close()
			return nil, fmt.Errorf("redis-server did not answer within 10 s: %s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *Redis) logTail() string {
	f, err := os.Open(filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	for s := bufio.NewScanner(f); s.Scan(); {
		if t := strings.TrimSpace(s.Text()); t != "" {
			last = t
		}
	}
	return last
}

// Client is a client of the server.
func (r *Redis) Client() *redis.Client { return r.rdb }

// Close stops the server and removes its directory.
func (r *Redis) Close() {
	r.rdb.Close()
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
	os.RemoveAll(r.dir)
}

// freePort is a loopback port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
