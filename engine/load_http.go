// One request over HTTP: building it, and naming why it failed.

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// send1 sends one request to the entry point.
func (l *Load) send1(parent context.Context, op Op, key, user int) string {
	ctx, cancel := l.clock.WithTimeout(parent, l.cfg.Timeout)
	defer cancel()
	base := l.cfg.Entry()
	var req *http.Request
	var err error
	switch op {
	case OpWrite:
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/post?user=%d", base, key), strings.NewReader("hello from a virtual user"))
	case OpUpload:
		// the body is small: the upload's length is modelled as web work
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/upload?id=%d", base, key), strings.NewReader("a photo from a virtual user"))
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%s?id=%d", base, op, key), nil)
	}
	if err != nil {
		return ReasonOther
	}
	req.Header.Set("Cookie", fmt.Sprintf("uid=u%d", user))
	req.Header.Set("X-Scalelab-User", fmt.Sprintf("u%d", user))
	resp, err := l.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return reasonClosing // the lab is closing; not the system's doing
		}
		return Classify(err, context.Cause(ctx))
	}
	return Finish(ctx, resp)
}

// Finish reads and closes a response and names its failure ("" for a
// success): queue-full, 5xx, the 4xx status, or why the body did not arrive.
func Finish(ctx context.Context, resp *http.Response) string {
	_, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(HeaderReason) == ReasonQueueFull:
		return ReasonQueueFull
	case resp.StatusCode >= 500:
		return Reason5xx
	case resp.StatusCode >= 400:
		return fmt.Sprintf("%d", resp.StatusCode)
	case err != nil:
		return Classify(err, context.Cause(ctx))
	}
	return ""
}

// Classify names why a request failed: timeout, refused, reset or other.
func Classify(err, cause error) string {
	switch {
	case errors.Is(cause, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED) || isDialError(err):
		// a connection that was never made: refused, whatever the kernel
		// said (a listener closing mid-handshake answers with a reset)
		return ReasonRefused
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE):
		return ReasonReset
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	return ReasonOther
}

// reasonClosing marks a request cut off because the lab closed: it is
// counted as neither ok nor failed (it stays in Sent only).
const reasonClosing = "closing"

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !op.Timeout()
}
