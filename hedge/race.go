package hedge

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
	"github.com/rtchain/chain/internal/record"
)

// errLost is the cause given to the context of an attempt that lost the race.
var errLost = errors.New("hedge: another attempt answered first")

// errNotSent settles a hedge whose request could not be made (GetBody
// failed); it is never returned.
var errNotSent = errors.New("hedge: hedge not sent")

// race is one hedged request: the first attempt, run by the caller's
// goroutine, and the hedges, each run by the goroutine of the timer that sent
// it. The first attempt's request and context live inside the race, so a
// request that needs no hedge costs one allocation.
type race struct {
	t     *Transport
	req   *http.Request // the caller's
	first http.Request  // the first attempt: req with &ctx as its context
	ctx   firstCtx
	start time.Time
	delay time.Duration
	sk    *sketch // nil with a fixed delay

	armed atomic.Bool // inner is set; written under mu after inner

	mu        sync.Mutex      // guards the fields below
	inner     context.Context // the first attempt's cancellable context, made by the first Done
	cancel    context.CancelCauseFunc
	timer     *time.Timer // sends the next hedge
	firstDone bool        // the first attempt returned
	decided   bool        // the outcome is known: nothing more is sent, every later response is closed
	live      int         // hedges sent whose RoundTrip has not returned
	hedges    []sent      // hedge k at k-1
	win       *http.Response
	winner    int           // the hedge that won, until the caller takes win
	winAt     time.Duration // when a hedge won, since start
	err       error         // the last error of an attempt
	wake      chan struct{} // closed when decided; made with the first hedge
}

// sent is what a race keeps of one hedge.
type sent struct {
	cancel context.CancelCauseFunc
	at     time.Duration // when it was sent, since start
}

// firstCtx is the context of the first attempt. It is the caller's context
// until the layer below first asks for Done, which shows that the layer can
// abandon the attempt when the context ends. Only then is a cancellable
// context made and the hedge timer set, counting from the start of the
// attempt: an attempt that the layer below cannot abandon would hold the
// caller until it ends, whatever a hedge did.
type firstCtx struct {
	context.Context // the caller's
	r               *race
}

// Done returns the Done channel of the first attempt's cancellable context,
// making it and setting the hedge timer on the first call. After the first
// attempt has returned, it returns the caller's Done channel.
func (c *firstCtx) Done() <-chan struct{} {
	r := c.r
	if r.armed.Load() {
		return r.inner.Done()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inner == nil {
		if r.firstDone {
			return c.Context.Done() // never cancelled by the race from now on
		}
		r.inner, r.cancel = context.WithCancelCause(c.Context)
		r.timer = time.AfterFunc(r.delay-time.Since(r.start), r.fire)
		r.armed.Store(true)
	}
	return r.inner.Done()
}

// Err returns the error of the cancellable context once made, else the
// caller's.
func (c *firstCtx) Err() error {
	if c.r.armed.Load() {
		return c.r.inner.Err()
	}
	return c.Context.Err()
}

// Value answers from the cancellable context once made (so that contexts
// derived from this one attach to it, and context.Cause sees its cause), else
// from the caller's.
func (c *firstCtx) Value(key any) any {
	if c.r.armed.Load() {
		return c.r.inner.Value(key)
	}
	return c.Context.Value(key)
}

func (c *firstCtx) String() string { return "hedge.firstAttempt" }

// fire sends the next hedge, on the timer's goroutine, and settles it.
func (r *race) fire() {
	k, at, req, ok := r.launch()
	if !ok {
		return
	}
	r.t.cfg.hook(Event{Request: r.req, Hedge: k, Delay: at})
	record.From(r.req.Context()).Attempt()
	resp, err := r.t.hedges.RoundTrip(req)
	resp, err = layer.Checked("hedge", r.t.hedges, req, resp, err)
	r.settle(k, resp, err)
}

// launch decides whether hedge k goes out now and makes its request. The
// budget is asked last, so a token is spent only on a hedge that is sent.
func (r *race) launch() (k int, at time.Duration, req *http.Request, ok bool) {
	c := &r.t.cfg
	ctx := r.req.Context()
	r.mu.Lock()
	if r.decided || !roomFor(ctx, r.delay) || (c.budget != nil && !c.budget.Withdraw()) {
		r.mu.Unlock()
		return 0, 0, nil, false
	}
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	hctx, cancel := context.WithCancelCause(attempt.WithHedge(ctx))
	at = time.Since(r.start)
	r.hedges = append(r.hedges, sent{cancel: cancel, at: at})
	k = len(r.hedges)
	r.live++
	if k < c.maxHedges {
		r.timer.Reset(r.delay)
	}
	r.mu.Unlock()

	req = r.req.WithContext(hctx)
	if b := r.req.Body; b != nil && b != http.NoBody {
		nb, err := r.req.GetBody()
		if err != nil || nb == nil {
			r.settle(k, nil, errNotSent)
			return 0, 0, nil, false
		}
		req.Body = nb
	}
	return k, at, req, true
}

// settle takes the outcome of hedge k: the first response wins, a later one
// is closed, and an error ends the request only when no attempt is left.
func (r *race) settle(k int, resp *http.Response, err error) {
	r.mu.Lock()
	r.live--
	h := r.hedges[k-1]
	switch {
	case r.decided:
		r.mu.Unlock()
		discard(resp)
		h.cancel(errLost)
	case err == nil:
		wake := r.decideLocked()
		r.win, r.winner, r.winAt = resp, k, time.Since(r.start)
		losers := r.losersLocked(k)
		r.mu.Unlock()
		// The hook runs before the caller can return: before the first
		// attempt is cancelled, or the caller woken.
		r.t.cfg.hook(Event{Request: r.req, Hedge: k, Delay: h.at, Won: true})
		for _, cancel := range losers {
			cancel(errLost)
		}
		wakeUp(wake)
	default:
		if err != errNotSent {
			r.err = err
		}
		if r.firstDone && r.live == 0 {
			wakeUp(r.decideLocked())
		}
		r.mu.Unlock()
		h.cancel(nil)
	}
}

// finishFirst takes the outcome of the first attempt and returns the
// request's.
func (r *race) finishFirst(resp *http.Response, err error) (*http.Response, error) {
	resp, err = layer.Checked("hedge", r.t.RT(), &r.first, resp, err)
	elapsed := time.Since(r.start)
	r.mu.Lock()
	r.firstDone = true
	cancel := r.cancel
	switch {
	case r.decided: // a hedge won and cancelled this attempt
		waited := r.winAt
		r.mu.Unlock()
		discard(resp)
		r.sample(waited) // at least this long: the tail stays in the sketch
		return r.take()
	case err == nil:
		wakeUp(r.decideLocked())
		losers := r.losersLocked(0)
		r.mu.Unlock()
		for _, c := range losers {
			c(errLost)
		}
		r.sample(elapsed)
		return handOver(resp, cancel), nil
	}
	r.err = err
	wait := r.live > 0
	if !wait {
		wakeUp(r.decideLocked())
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel(nil)
	}
	if !wait {
		return nil, errclass.Wrap(err)
	}
	select { // for a hedge in flight
	case <-r.wake:
	case <-r.req.Context().Done():
	}
	return r.take()
}

// take returns the winning hedge's response, or the error when every attempt
// failed or the caller's context ended the wait.
func (r *race) take() (*http.Response, error) {
	r.mu.Lock()
	resp, err := r.win, r.err
	var cancel context.CancelCauseFunc
	if resp != nil {
		cancel = r.hedges[r.winner-1].cancel
		r.win = nil
	}
	if !r.decided {
		wakeUp(r.decideLocked()) // the caller's context ended the wait
	}
	r.mu.Unlock()
	if resp == nil {
		if ctx := r.req.Context(); ctx.Err() != nil {
			err = context.Cause(ctx)
			if cerr := ctx.Err(); err != cerr {
				err = errors.Join(cerr, err)
			}
		}
		return nil, errclass.Wrap(err)
	}
	return handOver(resp, cancel), nil
}

// decideLocked marks the outcome known: no hedge starts any more. It
// returns the channel that wakes a caller waiting for a hedge, for wakeUp.
// Called with r.mu held, once.
func (r *race) decideLocked() chan struct{} {
	r.decided = true
	if r.timer != nil {
		r.timer.Stop()
	}
	return r.wake
}

// wakeUp closes wake, if any.
func wakeUp(wake chan struct{}) {
	if wake != nil {
		close(wake)
	}
}

// losersLocked returns the cancel functions of every attempt but the
// winner (0: the first attempt; k: hedge k). Called with r.mu held.
func (r *race) losersLocked(winner int) []context.CancelCauseFunc {
	var cs []context.CancelCauseFunc
	if winner != 0 && r.cancel != nil {
		cs = append(cs, r.cancel)
	}
	for i, h := range r.hedges {
		if i+1 != winner {
			cs = append(cs, h.cancel)
		}
	}
	return slices.Clip(cs)
}

// sample adds the first attempt's time to headers to the host's sketch.
func (r *race) sample(d time.Duration) {
	if r.sk != nil {
		r.sk.record(d, r.start.Add(d))
	}
}

// roomFor reports whether ctx leaves at least d for an attempt sent now.
func roomFor(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) >= d
}

// handOver returns resp with its body wrapped to release its attempt's
// context (cancel) when the caller is done with it: at EOF, on a read error
// or at Close, with io.EOF, the error or nil as the cause. The body's bytes
// are not touched.
func handOver(resp *http.Response, cancel context.CancelCauseFunc) *http.Response {
	switch {
	case cancel == nil:
	case resp.Body == nil:
		cancel(nil)
	default:
		resp.Body = body.Wrap(resp.Body, cancel)
	}
	return resp
}

// discard closes the body of a response nobody will read.
func discard(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
}
