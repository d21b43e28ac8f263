package hedge

import (
	"context"
	"errors"
	"io"
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
// it. The first attempt's request, its context and the wrapper of the
// winner's body live inside the race, so a request that needs no hedge costs
// one allocation, and one more (the Done channel) when the layer below
// watches a context that only the race can end (see firstCtx).
type race struct {
	t     *Transport
	req   *http.Request // the caller's
	first http.Request  // the first attempt: req with &ctx as its context
	ctx   firstCtx
	start time.Time
	delay time.Duration
	sk    *sketch    // nil with a fixed delay
	body  winnerBody // the winner's body as the caller gets it

	mu        sync.Mutex    // guards the fields below, and those of ctx that say so
	slot      *timerSlot    // sends the next hedge; nil until armed, and once decided
	due       time.Duration // when the next hedge is due, since start
	firstDone bool          // the first attempt returned
	decided   bool          // the outcome is known: nothing more is sent, every later response is closed
	live      int           // hedges sent whose RoundTrip has not returned
	hedges    []sent        // hedge k at k-1
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

// arm sets the hedge timer, counting from the start of the first attempt,
// once the first attempt's context is one the race can end. Called with r.mu
// held, once.
func (r *race) arm() {
	r.ctx.open()
	r.due = r.delay
	r.slot = r.t.slots.get(r.start)
	r.slot.publish(r, r.delay-time.Since(r.start))
}

// fire sends the next hedge if it is due, on the timer's goroutine, and
// settles it.
func (r *race) fire(sl *timerSlot) {
	k, at, req, ok := r.launch(sl)
	if !ok {
		return
	}
	r.t.cfg.hook(Event{Request: r.req, Hedge: k, Delay: at})
	record.From(r.req.Context()).Attempt()
	resp, err := r.t.hedges.RoundTrip(req)
	resp, err = layer.Checked("hedge", r.t.hedges, req, resp, err)
	r.settle(k, resp, err)
}

// launch decides whether hedge k goes out now, on a firing of sl, and makes
// its request. A firing of a slot the race no longer holds is ignored; one
// that came early (meant for the slot's previous user) sets the timer again.
// The budget is asked last, so a token is spent only on a hedge that is
// sent.
func (r *race) launch(sl *timerSlot) (k int, at time.Duration, req *http.Request, ok bool) {
	c := &r.t.cfg
	ctx := r.req.Context()
	r.mu.Lock()
	if r.slot != sl || r.decided || len(r.hedges) >= c.maxHedges {
		// Not this race's timer, or every hedge is out: a firing meant
		// for the slot's previous user that arrives late sends nothing.
		r.mu.Unlock()
		return 0, 0, nil, false
	}
	if early := r.due - time.Since(r.start); early > 0 {
		sl.t.Reset(early)
		r.mu.Unlock()
		return 0, 0, nil, false
	}
	if !roomFor(ctx, r.delay) || (c.budget != nil && !c.budget.Withdraw()) {
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
		r.due = at + r.delay
		sl.t.Reset(r.delay)
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
		r.ctx.endAs(lost)
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
		return r.handOver(resp, nil), nil
	}
	r.err = err
	wait := r.live > 0
	if !wait {
		wakeUp(r.decideLocked())
	}
	r.mu.Unlock()
	r.ctx.endAs(released)
	if !wait {
		return nil, errclass.Wrap(err)
	}
	select { // for a hedge in flight
	case <-r.wake:
	case <-r.req.Context().Done():
	}
	return r.take()
}

// abandon ends the race when the first attempt's RoundTrip panicked:
// nothing more is sent, every hedge is cancelled, a hedge's response that
// had won is closed, and the first attempt's context ends.
func (r *race) abandon() {
	r.mu.Lock()
	r.firstDone = true
	if !r.decided {
		wakeUp(r.decideLocked())
	}
	losers := r.losersLocked(0)
	win := r.win
	r.win = nil
	r.mu.Unlock()
	for _, cancel := range losers {
		cancel(errLost)
	}
	discard(win)
	r.ctx.endAs(released)
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
	return r.handOver(resp, cancel), nil
}

// decideLocked marks the outcome known: no hedge starts any more. It
// returns the channel that wakes a caller waiting for a hedge, for wakeUp.
// Called with r.mu held, once.
func (r *race) decideLocked() chan struct{} {
	r.decided = true
	if r.slot != nil {
		r.t.slots.put(r.slot)
		r.slot = nil
	}
	return r.wake
}

// wakeUp closes wake, if any.
func wakeUp(wake chan struct{}) {
	if wake != nil {
		close(wake)
	}
}

// losersLocked returns the cancel functions of every hedge but the winner
// (0: the first attempt; k: hedge k); the first attempt's context is ended
// apart, by [firstCtx.endAs]. Called with r.mu held.
func (r *race) losersLocked(winner int) []context.CancelCauseFunc {
	var cs []context.CancelCauseFunc
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

// handOver returns resp with its body wrapped to release the winner's
// context when the caller is done with it (see winnerBody). cancel is the
// winning hedge's, or nil when the first attempt won: then the body is
// wrapped only if the race armed. The body's bytes are not touched.
func (r *race) handOver(resp *http.Response, cancel context.CancelCauseFunc) *http.Response {
	switch {
	case cancel == nil && !r.ctx.armed.Load():
	case resp.Body == nil || resp.Body == http.NoBody:
		// Nothing to read: release at once (callers rarely close NoBody).
		r.body.r, r.body.cancel = r, cancel
		r.body.release(nil)
	default:
		r.body.rc, r.body.r, r.body.cancel = resp.Body, r, cancel
		resp.Body = body.KeepWriter(&r.body, resp.Body)
	}
	return resp
}

// winnerBody is the body of the winner's response as the caller gets it.
// It releases the winner's context exactly once, the first time a Read
// returns an error (io.EOF included) or at Close, before closing the body.
// It lives inside the race, since a race has one winner: wrapping costs no
// allocation, where body.Wrap would cost one.
type winnerBody struct {
	rc       io.ReadCloser
	r        *race
	cancel   context.CancelCauseFunc // the winning hedge's; nil: the first attempt won
	finished atomic.Bool
}

func (b *winnerBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.release(err)
	}
	return n, err
}

func (b *winnerBody) Close() error {
	b.release(nil)
	return b.rc.Close()
}

// release ends the winner's context, once: a hedge's with cause (io.EOF, a
// read error, or nil at Close), the first attempt's with context.Canceled.
func (b *winnerBody) release(cause error) {
	if !b.finished.CompareAndSwap(false, true) {
		return
	}
	if b.cancel != nil {
		b.cancel(cause)
	} else {
		b.r.ctx.endAs(released)
	}
}

// discard closes the body of a response nobody will read.
func discard(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
}
