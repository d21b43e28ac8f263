package retry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/rtchain/chain/errclass"
)

// plan decides what follows outcome o: the wait and body of the next
// attempt, or the reason to stop (reason not empty). Every check that can
// stop the loop without a side effect comes first; the budget's token is
// taken last, once the retry is sure to be attempted.
func (r *run) plan(o *Outcome) (step, GiveUpReason) {
	if refused(o.Class) {
		return r.planRefused(o)
	}
	c := &r.t.cfg
	switch {
	case o.Class == errclass.OK && !c.customPolicy:
		return step{}, GiveUpPolicy // DefaultPolicy retries no success: spare the call
	case r.ctx.Err() != nil:
		return step{}, r.ctxReason()
	case !c.policy(*o):
		return step{}, GiveUpPolicy
	case r.calls >= c.maxAttempts:
		return step{}, GiveUpAttempts
	case !r.replayable():
		return step{}, GiveUpNotReplayable
	}
	wait, ok := r.wait(o)
	if !ok {
		return step{}, GiveUpRetryAfterCap
	}
	s, reason := r.prepare(wait)
	if reason == "" && r.budget != nil && !r.budget.withdraw(time.Now()) {
		s.body, reason = closeBody(s.body), GiveUpBudget
	}
	if reason == "" {
		r.last, r.hasLast = *o, true // returned after all if the next attempt is refused below
	}
	return s, reason
}

// planRefused decides what follows an attempt that the layer below refused
// without sending it: when the refusal relays a pause (a server's
// Retry-After shared by a breaker) that fits the cap and the deadline, wait
// it out and send again, without spending the budget (the refused attempt
// cost the server nothing); otherwise stop, and finish returns the last
// real outcome.
func (r *run) planRefused(o *Outcome) (step, GiveUpReason) {
	reason := GiveUpBreakerOpen
	if o.Class == errclass.Limited {
		reason = GiveUpLimited
	}
	c := &r.t.cfg
	p := errclass.PausedFor(o.Err)
	switch {
	case p <= 0 || r.calls >= c.maxAttempts:
		return step{}, reason
	case p > c.retryAfterCap:
		return step{}, GiveUpRetryAfterCap
	case r.ctx.Err() != nil:
		return step{}, r.ctxReason()
	}
	return r.prepare(spread(p, c.random))
}

// wait returns how long to wait after outcome o, and false when a
// Retry-After asks for more than the cap.
func (r *run) wait(o *Outcome) (time.Duration, bool) {
	c := &r.t.cfg
	if resp := o.Response; resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			if d > c.retryAfterCap || d == math.MaxInt64 { // too long for a Duration: above any cap
				return 0, false
			}
			return spread(d, c.random), true
		}
	}
	return c.backoff.wait(r.calls-1, r.prevWait, c.random), true
}

// prepare checks that a wait of d and an attempt after it fit before the
// deadline, and gets the next attempt's body; it checks the deadline again
// after GetBody, which may be slow (reopening a file).
func (r *run) prepare(d time.Duration) (step, GiveUpReason) {
	if !r.fits(d) {
		return step{}, GiveUpDeadline
	}
	body, ok := r.body()
	if !ok {
		return step{}, GiveUpNotReplayable
	}
	if !r.fits(d) {
		closeBody(body)
		return step{}, GiveUpDeadline
	}
	return step{wait: d, grace: r.grace(d), body: body}, ""
}

// fits reports whether a wait of d and the least time of an attempt
// (WithMinAttemptTime) end before the request's deadline.
func (r *run) fits(d time.Duration) bool {
	dl, ok := r.ctx.Deadline()
	return !ok || time.Until(dl)-d > r.t.cfg.minAttempt
}

// grace returns how long a discarded body's drain may go on after a wait of
// d: drainGrace, less when the deadline is nearer.
func (r *run) grace(d time.Duration) time.Duration {
	g := drainGrace
	if dl, ok := r.ctx.Deadline(); ok {
		g = min(g, time.Until(dl)-d-r.t.cfg.minAttempt)
	}
	return max(g, 0)
}

// replayable reports whether every attempt can send the request's whole
// body: it has none, it has a GetBody, or WithBufferBody copied all of it.
func (r *run) replayable() bool {
	if replayable(r.req) {
		return true
	}
	if r.tee == nil {
		return false
	}
	_, ok := r.tee.copied()
	return ok
}

// body returns the next attempt's request body (nil when the request has
// none), and false when it cannot be had: no GetBody and no complete
// WithBufferBody copy, or GetBody failed. A body that GetBody returns
// together with an error is closed.
func (r *run) body() (io.ReadCloser, bool) {
	req := r.req
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil, true
	case req.GetBody != nil:
		b, err := req.GetBody()
		if err != nil || b == nil {
			closeBody(b)
			return nil, false
		}
		return b, true
	case r.tee != nil:
		if b, ok := r.tee.copied(); ok {
			return io.NopCloser(bytes.NewReader(b)), true
		}
	}
	return nil, false
}

// ctxReason is the give-up reason when the request's context is done.
func (r *run) ctxReason() GiveUpReason {
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		return GiveUpDeadline
	}
	return GiveUpCanceled
}

// closeBody closes b when it is not nil, and returns nil.
func closeBody(b io.ReadCloser) io.ReadCloser {
	if b != nil {
		b.Close()
	}
	return nil
}
