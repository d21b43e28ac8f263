package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Bounds of the drain of a discarded response body.
const (
	drainLimit = 64 << 10              // bytes read at most
	drainGrace = 20 * time.Millisecond // extra time a drain may take after the wait
)

// errCut ends the kept copy of a discarded body that was longer than
// drainLimit, or not read to its end in time.
var errCut = fmt.Errorf("retry: response body cut: the retry layer read at most %d KiB of it before the next attempt", drainLimit>>10)

// pause waits d, or until ctx is done, whichever comes first, and returns
// the context's error in the second case (see ctxErr). Meanwhile it drains
// the body of discard (an attempt's response that is not returned, or nil)
// on another goroutine, at most drainLimit bytes: a read cannot be bounded
// in time otherwise. When the drain is not over at the end of the wait, it
// gets up to grace more (a zero wait still lets a short body be drained, so
// its connection is reused). Then the body is closed, which stops a drain
// still in progress with the bodies of net/http, and discard.Body is
// replaced by a copy of the bytes drained (ended by errCut when they are not
// the whole body), in case discard is returned after all. pause never waits
// for a drain that a Close does not stop: that goroutine ends when its Read
// returns.
func pause(ctx context.Context, d, grace time.Duration, discard *http.Response) error {
	var dr *drain
	if discard != nil && discard.Body != nil && discard.Body != http.NoBody {
		dr = startDrain(discard.Body)
	}
	if d > 0 || dr != nil {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
			if dr != nil && grace > 0 {
				timer.Reset(grace)
				select {
				case <-dr.done:
				case <-timer.C:
				case <-ctx.Done():
				}
			}
		case <-ctx.Done():
		}
		timer.Stop()
	}
	if dr != nil {
		discard.Body = dr.keep()
	}
	return ctxErr(ctx)
}

// ctxErr returns ctx's error, wrapping its cause too when that differs, or
// nil while ctx is not done.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != err {
		return fmt.Errorf("%w (%w)", err, cause)
	}
	return err
}

// drain reads a discarded body into buf on its own goroutine. buf and err
// belong to that goroutine until done is closed.
type drain struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	err  error
	done chan struct{}
}

func startDrain(rc io.ReadCloser) *drain {
	d := &drain{rc: rc, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		_, d.err = d.buf.ReadFrom(io.LimitReader(rc, drainLimit+1))
	}()
	return d
}

// keep closes the body and returns a copy of what the drain read, ended by
// the drain's read error, or errCut when the drain did not reach the end.
func (d *drain) keep() io.ReadCloser {
	d.rc.Close()
	select {
	case <-d.done:
	default:
		return &keptBody{tail: errCut} // still reading: the bytes stay the drain's
	}
	b, tail := d.buf.Bytes(), d.err
	if len(b) > drainLimit {
		b, tail = b[:drainLimit], errCut
	}
	return &keptBody{r: *bytes.NewReader(b), tail: tail}
}

// keptBody is the copy of a discarded response body: its bytes, then tail
// (io.EOF when nil).
type keptBody struct {
	r    bytes.Reader
	tail error
}

func (k *keptBody) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if errors.Is(err, io.EOF) && k.tail != nil {
		err = k.tail
	}
	return n, err
}

func (*keptBody) Close() error { return nil }
