// Command scalelab is a terminal lab for large-scale system design: each
// chapter runs real components (load balancer, web servers, SQLite, Redis)
// on loopback under generated load, and the learner breaks them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9/logging"

	"scalelab/chapters/catalog"
)

// errUsage marks bad input: exit status 2, nothing started.
var errUsage = errors.New("usage")

// usageError is bad input with the message to show.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func badInput(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	// go-redis logs through the standard logger to stderr: its dial errors,
	// which killing a Redis node makes by design, would print over the TUI.
	// Once, here: it is process-wide, so no constructor may do it.
	logging.Disable()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// env is what the command reads and writes, so tests can drive it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func run(ctx context.Context, args []string, e env) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "run":
		err = runCmd(ctx, args[1:], e)
	case len(args) > 0 && args[0] == "fidelity":
		err = fidelityCmd(ctx, args[1:], e)
	case len(args) > 0 && args[0] == "list":
		err = listCmd(args[1:], e)
	case len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		if len(args) > 1 && args[1] == "run" {
			fmt.Fprint(e.stdout, runUsage)
		} else if len(args) > 1 && args[1] == "fidelity" {
			fmt.Fprint(e.stdout, fidelityUsage)
		} else {
			fmt.Fprint(e.stdout, mainUsage())
		}
		return 0
	default:
		err = tuiCmd(ctx, args, e)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errInterrupted):
		return 130
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "scalelab: %v\n", err)
		return 2
	case errors.Is(err, errEnv):
		fmt.Fprintf(e.stderr, "scalelab: %v\n", err)
		return 3
	default:
		fmt.Fprintf(e.stderr, "scalelab: %v\n", err)
		return 1
	}
}

var (
	errHelp        = errors.New("help shown")
	errInterrupted = errors.New("interrupted")
)

const mainUsageText = `scalelab — learn large-scale system design by running it and breaking it.

Each chapter starts real components in this process (an HTTP load balancer,
web servers, SQLite databases, Redis) on 127.0.0.1, drives them with
generated load, and lets you kill nodes, add latency and turn knobs while
you watch the measured throughput, latency and failures.

Usage:
  scalelab [--chapter N|ID] [--lang en|ko]   open the lab (at your next unfinished chapter)
  scalelab list [--lang en|ko]               the chapters and your progress
  scalelab run CHAPTER [flags]               run a chapter headless (see: scalelab run --help)
  scalelab fidelity [--json]                 compare the lab's components with redis-server
                                             and HAProxy (see: scalelab fidelity --help)
  scalelab --help                            this help

Options:
  --chapter N|ID   start at this chapter, by number or id:
CHAPTERS
  --lang en|ko     language of the lessons (default from LANG)
  --redis-server PATH
                   run every Redis node (cache, session store, queue broker)
                   as a real redis-server 7+ from PATH, which the lab starts,
                   kills (SIGKILL) and restarts; default SCALELAB_REDIS_SERVER,
                   else miniredis inside this process

Keys in the lab (press ? for all):
  tab/shift+tab select node or link · x kill · r restart · l latency
  +/- load · s 5x spike · space pause · </> clock speed · n/b step
  ]/[ chapter · i inspector · h hint (again: the solution) · ? help · q quit

Progress is kept in $XDG_CONFIG_HOME/scalelab/progress.json (or
SCALELAB_CONFIG_DIR). Everything listens on 127.0.0.1 only; all files live
in one temporary directory (under TMPDIR) that is removed on exit.

Exit status: 0 done, 1 failure, 2 bad input, 3 no usable config or
temporary directory (set SCALELAB_CONFIG_DIR or TMPDIR), 130 quit by a
signal (SIGINT, SIGTERM, SIGHUP). Nothing is started on 2 or 3.
`

// mainUsage is the help, with the chapters from the catalog.
func mainUsage() string {
	var ids []string
	for _, ch := range catalog.All() {
		ids = append(ids, fmt.Sprintf("%d %s", ch.Number, ch.ID))
	}
	// wrapped under the option's text, within 80 columns
	const indent = "                   "
	var lines []string
	line := indent
	for i, id := range ids {
		if i < len(ids)-1 {
			id += ","
		}
		if len(line)+len(id)+1 > 78 && line != indent {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += id
	}
	lines = append(lines, line)
	return strings.Replace(mainUsageText, "CHAPTERS", strings.Join(lines, "\n"), 1)
}

const runUsage = `Usage: scalelab run CHAPTER [flags]

Runs one step of a chapter without the TUI: the same components and load as
in the lab. A status line a second goes to stderr; a report goes to stdout
at the end (Ctrl-C stops early and still reports).

Flags:
  --step K          which step of the chapter (default 1)
  --duration D      how long to run, in lab time (default 30s; at most 1h)
  --rate R          arrival rate in requests per second (default: the step's)
  --chaos FILE|-    a chaos script to apply (- reads standard input)
  --solution        play the step's worked solution (the lab's second h),
                    for its own duration unless --duration is given
  --seed N          seed for the load and random targets (default 1)
  --json            print the report as one JSON object
  --knobs           list the chapter's knobs by step (or only --step K's):
                    their values for set lines and the lab key that cycles
                    each; nothing runs
  --lang en|ko      language of --knobs (default from LANG)
  --redis-server PATH
                    run every Redis node as a real redis-server 7+ from PATH
                    (default SCALELAB_REDIS_SERVER, else miniredis in-process)

A chaos script has one action a line, AT ACTION TARGET [ARGS], and # comments:
  5s  kill web-2              crash a node (targets: a name, @role, @random-role,
                              @primary, @dc:eu: a whole data center)
  12s restart web-2           bring it back
  8s  latency web-1 200ms     add latency to a node (or a link: lb-1>web-1)
  10s rate 800                change the arrival rate
  15s spike 5x 10s            multiply the rate for a while
  20s set lb.policy least-conn  change a chapter knob (see --knobs)
  25s add web / drain web-3 / remove web-3   change the target group (loadbalancer)
  26s partition db-1,web-1 / 30s heal web-1   cut a group off, then heal it
  27s pause / 29s resume      hold the lab clock (a pause needs a later resume)
  28s deploy / 28.5s purge    a new version, then purge the CDN (cdn)
A line timed past --duration is an error.

Exit status: 0 done, 1 failure, 2 bad input (nothing started), 3 no
writable temporary directory (set TMPDIR; nothing started), 130 interrupted.
`
