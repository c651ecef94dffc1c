package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/charmbracelet/x/ansi"
)

// openPTY opens a pseudo-terminal of w×h cells: the controller side the
// test reads and writes, and the terminal side a child gets as its
// terminal.
func openPTY(t *testing.T, w, h uint16) (ctl, tty *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	var unlock int32
	if err := ioctl(ctl, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	var n uint32
	if err := ioctl(ctl, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	ws := struct{ rows, cols, x, y uint16 }{h, w, 0, 0}
	if err := ioctl(tty, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		t.Fatalf("window size: %v", err)
	}
	return ctl, tty
}

func ioctl(f *os.File, req uint, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// screen collects what the lab draws on the terminal.
type screen struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  chan struct{} // closed once want has been drawn
	want  string
	found bool
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if !s.found && strings.Contains(ansi.Strip(s.buf.String()), s.want) {
		s.found = true
		close(s.seen)
	}
	return len(p), nil
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.buf.String())
}

// startLab runs `scalelab --chapter 1` (this test binary as the command)
// on a terminal of its own and returns once its first frame is drawn.
func startLab(t *testing.T) (*exec.Cmd, *os.File, *screen) {
	t.Helper()
	ctl, tty := openPTY(t, 100, 30)
	cmd := exec.Command(os.Args[0], "--chapter", "1")
	cmd.Env = append(os.Environ(), "SCALELAB_TEST_MAIN=1", "SCALELAB_CONFIG_DIR="+t.TempDir(), "TERM=xterm-256color", "LANG=en_US.UTF-8")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	scr := &screen{seen: make(chan struct{}), want: "q quit"}
	go func() { _, _ = io.Copy(scr, ctl) }()
	select {
	case <-scr.seen: // the help line, the last line of the first frame
	case <-time.After(60 * time.Second):
		t.Fatalf("no first frame within 60 s; the screen so far:\n%s", scr)
	}
	return cmd, ctl, scr
}

// exitCode waits for the child and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd, scr *screen) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second): // generous: closing waits for a lab still being built
		// SIGQUIT makes the Go runtime print every goroutine's stack
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-done
		t.Fatalf("the lab did not exit within 60 s; the screen, then its goroutines:\n%s", scr)
		return -1
	}
}

// Quit by a signal from outside, the lab exits 130 (as a headless run
// does); quit by its q key, 0.
func TestLabExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(cmd *exec.Cmd, ctl *os.File) error
		want int
	}{
		{"SIGINT", func(cmd *exec.Cmd, _ *os.File) error { return cmd.Process.Signal(syscall.SIGINT) }, 130},
		{"SIGTERM", func(cmd *exec.Cmd, _ *os.File) error { return cmd.Process.Signal(syscall.SIGTERM) }, 130},
		{"q key", func(_ *exec.Cmd, ctl *os.File) error { _, err := ctl.Write([]byte("q")); return err }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, ctl, scr := startLab(t)
			if err := tc.stop(cmd, ctl); err != nil {
				t.Fatal(err)
			}
			if got := exitCode(t, cmd, scr); got != tc.want {
				t.Errorf("exit status %d, want %d", got, tc.want)
			}
		})
	}
}
