package lab

import (
	"errors"
	"sync"

	tea "charm.land/bubbletea/v2"

	"scalelab/chapters"
	"scalelab/engine"
)

// stepSession is what the lab needs of a running step; *chapters.Session
// is one. Every method is called from the root model's goroutine.
type stepSession interface {
	Observe(engine.Snapshot) []string
	Met(id string) bool
	Apply(engine.Action) error
	Measured() (float64, bool)
	Lesson() map[string]any
	Close() error
}

// liveSession is one opened step with its owner id. Messages from it carry
// the id, so a message from a session already replaced is dropped.
type liveSession struct {
	id   int
	sess stepSession
	dir  string // the step's temp dir (gone once closed)
	done chan struct{}
}

// Messages between the session runner and the root model.
type (
	snapshotMsg struct {
		id   int
		snap engine.Snapshot
	}
	openedMsg struct {
		id  int
		ls  *liveSession
		err error
	}
	closedMsg struct {
		id  int
		err error
	}
)

var errShuttingDown = errors.New("lab is shutting down")

// runner opens and closes sessions off the UI goroutine and relays their
// snapshots to the program. It keeps track of everything it started, so
// closeAll leaves no session, goroutine, port or temp dir behind.
type runner struct {
	open func(ch *chapters.Chapter, idx int) (*chapters.Session, error)

	mu     sync.Mutex
	send   func(tea.Msg)
	ready  chan struct{} // closed once send is set
	live   map[int]*liveSession
	closed bool
	errs   []error        // from closing sessions at shutdown
	wg     sync.WaitGroup // opens in flight and relays
}

func newRunner(open func(ch *chapters.Chapter, idx int) (*chapters.Session, error)) *runner {
	if open == nil {
		open = func(ch *chapters.Chapter, idx int) (*chapters.Session, error) {
			return chapters.Open(ch, idx, chapters.Options{})
		}
	}
	return &runner{open: open, ready: make(chan struct{}), live: map[int]*liveSession{}}
}

// setSend sets how snapshots reach the program (Program.Send). Relays wait
// for it, so it may be set after the program started.
func (r *runner) setSend(send func(tea.Msg)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.send == nil {
		r.send = send
		close(r.ready)
	}
}

// openCmd opens a step in a command; the result arrives as openedMsg.
func (r *runner) openCmd(id int, ch *chapters.Chapter, idx int) tea.Cmd {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil
	}
	return func() tea.Msg {
		// counted when it runs, not when it is made: a program that quits
		// first never runs it, and closeAll would wait for it for ever
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return openedMsg{id: id, err: errShuttingDown}
		}
		r.wg.Add(1)
		r.mu.Unlock()
		defer r.wg.Done()
		s, err := r.open(ch, idx)
		if err != nil {
			return openedMsg{id: id, err: err}
		}
		snaps := s.Sys.Subscribe()
		ls := &liveSession{id: id, sess: s, dir: s.Sys.Dir, done: make(chan struct{})}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			_ = s.Close()
			return openedMsg{id: id, err: errShuttingDown}
		}
		r.live[id] = ls
		r.wg.Add(1)
		r.mu.Unlock()
		go r.relay(ls, snaps)
		return openedMsg{id: id, ls: ls}
	}
}

// relay forwards a session's snapshots until it is closed. The engine keeps
// only the newest snapshot for a slow reader, so it never blocks on us.
func (r *runner) relay(ls *liveSession, snaps <-chan engine.Snapshot) {
	defer r.wg.Done()
	select {
	case <-r.ready:
	case <-ls.done:
		return
	}
	r.mu.Lock()
	send := r.send
	r.mu.Unlock()
	for {
		select {
		case <-ls.done:
			return
		case s := <-snaps:
			select {
			case <-ls.done:
				return
			default:
			}
			send(snapshotMsg{id: ls.id, snap: s})
		}
	}
}

// close stops one session; it is idempotent.
func (r *runner) close(ls *liveSession) error {
	r.mu.Lock()
	if r.live[ls.id] != ls {
		r.mu.Unlock()
		return nil
	}
	delete(r.live, ls.id)
	r.mu.Unlock()
	close(ls.done)
	return ls.sess.Close()
}

// closeCmd closes a session in a command.
func (r *runner) closeCmd(ls *liveSession) tea.Cmd {
	return func() tea.Msg { return closedMsg{id: ls.id, err: r.close(ls)} }
}

// closeAll closes every session, waits for opens in flight (closing what
// they open) and for every relay. It must not run on the UI goroutine while
// the program runs: a relay may be waiting for the UI to take a message.
func (r *runner) closeAll() error {
	r.mu.Lock()
	r.closed = true
	live := make([]*liveSession, 0, len(r.live))
	for _, ls := range r.live {
		live = append(live, ls)
	}
	r.mu.Unlock()
	var errs []error
	for _, ls := range live {
		errs = append(errs, r.close(ls))
	}
	r.wg.Wait()
	err := errors.Join(errs...)
	r.mu.Lock()
	r.errs = append(r.errs, err)
	all := errors.Join(r.errs...)
	r.mu.Unlock()
	return all
}

// quitCmd closes everything and then quits the program.
func (r *runner) quitCmd() tea.Cmd {
	return func() tea.Msg {
		_ = r.closeAll() // Run reports the errors
		return tea.QuitMsg{}
	}
}
