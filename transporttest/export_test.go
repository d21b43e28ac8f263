package transporttest

import (
	"context"
	"time"
)

// StallGrace is how long after a fixture reached its stall [DeadlineWhen]
// ends the request: long enough for a fixture that would wrongly go on
// answering to show it in most runs, short enough to keep the tests fast.
const StallGrace = 20 * time.Millisecond

// DeadlineWhen returns a context for a request to a fixture that stalls, and
// a function that releases it (call it before checking for goroutine
// leaks). The context ends with context.DeadlineExceeded, as a deadline
// would, StallGrace after cond first holds, cond saying that the exchange
// has reached the state under test (polled every millisecond), and after 10 s
// at the latest. A deadline counted from the start of the request can end it
// before the fixture got there on a loaded machine; this one cannot.
//
// It is test-only: tests of both packages use it through this file.
func DeadlineWhen(cond func() bool) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		limit := time.NewTimer(10 * time.Second)
		defer limit.Stop()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-tick.C:
			case <-limit.C:
				cancel(context.DeadlineExceeded)
				return
			case <-stop:
				return
			}
		}
		select {
		case <-time.After(StallGrace):
			cancel(context.DeadlineExceeded)
		case <-stop:
		}
	}()
	return ctx, func() {
		close(stop)
		<-done
		cancel(context.Canceled)
	}
}
