package kv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvServer names the environment variable that makes every KV node a real
// redis-server when UseServer was not called: its value is the path.
const EnvServer = "SCALELAB_REDIS_SERVER"

// MinServerMajor is the oldest redis-server the lab runs: streams with
// XAUTOCLAIM and XCLAIM dropping deleted entries, and multi-part AOF, are 7.
const MinServerMajor = 7

// Server is the redis-server a lab's KV nodes run as; a zero Server means
// miniredis, inside the lab's own process.
type Server struct {
	Path    string // the executable
	Version string // "7.0.15"
}

// Real reports whether nodes run as redis-server processes.
func (s Server) Real() bool { return s.Path != "" }

// setting is the one process-wide choice of backend. It is set once, by the
// command from its flag, before any lab starts (or read from EnvServer at
// the first node), and only read after that.
var setting struct {
	mu  sync.Mutex
	set bool
	srv Server
	err error
}

// UseServer makes every KV node made from now on a redis-server process
// run from path, after checking it is an executable redis-server of version
// 7 or newer; "" makes them miniredis. It returns what nodes will run. A
// path that fails the check changes nothing.
func UseServer(path string) (Server, error) {
	srv, err := CheckServer(path)
	if err != nil {
		return srv, err
	}
	setting.mu.Lock()
	defer setting.mu.Unlock()
	setting.set, setting.srv, setting.err = true, srv, nil
	return srv, nil
}

// CurrentServer is what KV nodes run: the path given to UseServer, else the
// one in EnvServer (checked the first time), else miniredis.
func CurrentServer() (Server, error) {
	setting.mu.Lock()
	defer setting.mu.Unlock()
	if !setting.set {
		setting.set = true
		if p := os.Getenv(EnvServer); p != "" {
			setting.srv, setting.err = CheckServer(p)
			if setting.err != nil {
				setting.err = fmt.Errorf("%s: %w", EnvServer, setting.err)
			}
		}
	}
	return setting.srv, setting.err
}

// ErrBadServer is returned for a path that is not a usable redis-server.
var ErrBadServer = errors.New("not a usable redis-server")

var versionRE = regexp.MustCompile(`v=(\d+)\.(\d+)\.(\d+)`)

// CheckServer checks that path ("" is miniredis: nothing to check) names an
// executable redis-server of version 7 or newer, by running it with
// --version.
func CheckServer(path string) (Server, error) {
	if path == "" {
		return Server{}, nil
	}
	exe, err := exec.LookPath(path)
	if err != nil {
		return Server{}, fmt.Errorf("%s: %w: %v", path, ErrBadServer, unwrapExec(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--version").Output()
	if err != nil {
		return Server{}, fmt.Errorf("%s --version: %w: %v", path, ErrBadServer, err)
	}
	m := versionRE.FindSubmatch(out)
	if !bytes.HasPrefix(out, []byte("Redis server")) || m == nil {
		return Server{}, fmt.Errorf("%s --version says %q: %w", path, firstLine(out), ErrBadServer)
	}
	if major, _ := strconv.Atoi(string(m[1])); major < MinServerMajor {
		return Server{}, fmt.Errorf("%s is redis-server %s.%s.%s; the lab needs %d or newer: %w", path, m[1], m[2], m[3], MinServerMajor, ErrBadServer)
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		abs = exe
	}
	return Server{Path: abs, Version: fmt.Sprintf("%s.%s.%s", m[1], m[2], m[3])}, nil
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		if errors.Is(ee.Err, exec.ErrNotFound) || errors.Is(ee.Err, os.ErrNotExist) {
			return errors.New("not found")
		}
		if errors.Is(ee.Err, os.ErrPermission) {
			return errors.New("not executable")
		}
		return ee.Err
	}
	return err
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// serverProcess is a node's redis-server: a child process on a loopback
// port with its own directory under the lab's, which the lifecycle starts
// (Listen), kills with SIGKILL (Crash) and starts again on the same port.
// A persistent node appends every write to an AOF file and fsyncs it before
// it answers (appendonly yes, appendfsync always), so an acknowledged write
// survives a kill; a memory-only node writes nothing and comes back empty.
type serverProcess struct {
	srv     Server
	dir     string
	persist bool

	mu   sync.Mutex
	proc *os.Process
	pid  int
	done chan struct{} // closed when the process has exited and been reaped
}

// startTimeout bounds how long a start waits for the server to answer PING
// (loading its AOF included).
const startTimeout = 10 * time.Second

func (p *serverProcess) Listen(addr string) (string, error) {
	if addr != "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", err
		}
		return addr, p.start(port)
	}
	var err error
	for range 5 { // the port the OS gave may be taken before the server binds it
		var port string
		if port, err = freePort(); err != nil {
			return "", err
		}
		if err = p.start(port); err == nil {
			return net.JoinHostPort("127.0.0.1", port), nil
		}
	}
	return "", err
}

// freePort asks the OS for a free loopback port.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func (p *serverProcess) config(port string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bind 127.0.0.1\nport %s\nprotected-mode no\ndaemonize no\n", port)
	fmt.Fprintf(&b, "dir %q\nlogfile \"\"\nloglevel warning\nsave \"\"\n", p.dir)
	if p.persist {
		b.WriteString("appendonly yes\nappendfsync always\n")
	} else {
		b.WriteString("appendonly no\n")
	}
	return b.String()
}

// start runs the server on port and waits until it answers PING.
func (p *serverProcess) start(port string) error {
	logPath := filepath.Join(p.dir, "redis.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.srv.Path, "-") // the config comes on stdin
	cmd.Stdin = strings.NewReader(p.config(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = p.dir
	cmd.SysProcAttr = childAttr()
	err = cmd.Start()
	log.Close() // the child has its own
	if err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps it, whoever killed it
		close(done)
	}()
	if err := waitPing(net.JoinHostPort("127.0.0.1", port), done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %s: %w%s", port, err, logTail(logPath))
	}
	p.mu.Lock()
	p.proc, p.pid, p.done = cmd.Process, cmd.Process.Pid, done
	p.mu.Unlock()
	return nil
}

// waitPing waits until the server on addr answers PING with PONG (not
// LOADING), the process exits, or startTimeout passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(addr) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %s", startTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// logTail is the end of the server's log, for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return ": " + strings.TrimSpace(lines[len(lines)-1])
}

// Crash kills the process (SIGKILL: no shutdown, no final save) and reaps
// it.
func (p *serverProcess) Crash() {
	p.mu.Lock()
	proc, done := p.proc, p.done
	p.proc, p.pid, p.done = nil, 0, nil
	p.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Kill()
	<-done
}

// Pid is the running process's id, 0 when none runs.
func (p *serverProcess) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}
