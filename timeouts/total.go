package timeouts

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/bubble"
	"github.com/rtchain/chain/internal/layer"
)

// TotalOption configures [Total]. [WithOnTimeout] is one; the options of the
// per-attempt layer are not, so that Total(d, WithAttempt(x)) does not
// compile instead of doing nothing. A nil TotalOption is skipped.
type TotalOption interface {
	applyTotal(*totalConfig)
}

type totalConfig struct {
	onTimeout []func(*http.Request, *Error)
}

// Total returns a middleware that gives each request one deadline, d after
// RoundTrip is called, over everything below it: every attempt, every retry
// wait, every redirect the layers below follow, and the response body. Place
// it outermost (above retry). The deadline is the context deadline the
// layers below see, so a retry layer never starts a wait it cannot finish and
// a per-attempt bound ([WithAttempt]) gets the smaller of its bound and the
// time left.
//
// When the deadline passes, RoundTrip (or the body's Read) fails with an
// *[Error] of Phase total that wraps the error the layers below returned
// last (errors.Unwrap gives it, so errors.Is still finds a
// syscall.ECONNREFUSED behind it). A caller's context that ends first, or
// has an earlier deadline, keeps its own error. The hooks of opts
// ([WithOnTimeout]) are called once per request that ran out of time. d must
// be positive; anything else panics.
//
// The deadline fires exactly on time, from a timer pooled by the middleware;
// a request costs at most two allocations: its state, which is also the
// context given to the next layer and holds the request copy that carries
// it, and the Done channel when a layer below asks for it. The RoundTripper returned is
// safe for concurrent use; it forwards CloseIdleConnections and has Unwrap.
func Total(d time.Duration, opts ...TotalOption) func(http.RoundTripper) http.RoundTripper {
	positive("Total", d)
	var c totalConfig
	for _, o := range opts {
		if o != nil {
			o.applyTotal(&c)
		}
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return &total{Next: layer.Of(next), d: d, hooks: c.onTimeout}
	}
}

type total struct {
	layer.Next
	d     time.Duration
	hooks []func(*http.Request, *Error)
	slots slots[totalReq, *totalReq]
}

var _ http.RoundTripper = (*total)(nil)

// totalReq is one request under Total: its context (deadline d after the
// call), the timer that ends it, and the response body that keeps it until
// EOF, a read error or Close.
type totalReq struct {
	ctxState
	out      http.Request // the copy of the caller's request that next gets, with x as its context
	t        *total
	deadline time.Time
	rc       io.ReadCloser
	slot     *timerSlot[totalReq, *totalReq]
	finished atomic.Bool
	reported atomic.Bool
	fired    bool // guarded by mu
}

func (t *total) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline := time.Now().Add(t.d)
	if pd, ok := req.Context().Deadline(); ok && !pd.After(deadline) {
		// The caller's deadline comes first.
		resp, err := t.RT().RoundTrip(req)
		return resp, errclass.Wrap(err)
	}
	x := &totalReq{t: t, deadline: deadline}
	x.req = req
	// One allocation for the request's state, its context and the copy of
	// the request (WithContext's own copy does not escape).
	x.out = *req.WithContext(x)
	x.slot = t.slots.get(bubble.In(deadline)) // deadline keeps time.Now's monotonic reading, if any
	x.slot.publish(x)                         // after every field the timer's onTimer reads
	x.mu.Lock()                               // arm's callers are serialised: onTimer arms under x.mu
	x.slot.arm(t.d)
	x.mu.Unlock()
	returned := false
	defer func() {
		if !returned { // next panicked
			x.finish()
		}
	}()
	next := t.RT()
	resp, err := next.RoundTrip(&x.out)
	returned = true
	if resp, err = layer.Checked("timeouts", next, req, resp, err); err != nil {
		x.finish()
		return nil, x.mapErr(err)
	}
	switch {
	case resp.Body == nil || resp.Body == http.NoBody:
		x.finish()
	case resp.StatusCode == http.StatusSwitchingProtocols:
		x.rc = resp.Body
		resp.Body = body.KeepWriter((*totalBody)(x), x.rc)
	default:
		x.rc = resp.Body
		resp.Body = (*totalBody)(x)
	}
	return resp, nil
}

// Deadline returns the request's deadline, d after the call.
func (x *totalReq) Deadline() (time.Time, bool) { return x.deadline, true }

// Value returns the parent's value.
func (x *totalReq) Value(key any) any { return x.parent().Value(key) }

func (x *totalReq) String() string { return "timeouts.total" }

// onTimer runs on the timer's goroutine: it ends the context once the
// deadline has passed, and sets the timer again when it fired early (a slot's
// timer may still be set from its previous user).
func (x *totalReq) onTimer() {
	x.mu.Lock()
	if x.end != notDone {
		x.mu.Unlock()
		return
	}
	if left := time.Until(x.deadline); left > 0 {
		x.slot.arm(left)
		x.mu.Unlock()
		return
	}
	x.fired = true
	funcs := x.cancelLocked(deadline)
	x.mu.Unlock()
	runAll(funcs)
}

// finish releases the timer and cancels the context, once.
func (x *totalReq) finish() {
	if !x.finished.CompareAndSwap(false, true) {
		return
	}
	x.t.slots.put(x.slot)
	x.cancel(canceled)
}

// expired reports whether the deadline ended the request: the timer fired,
// or the deadline has passed (a layer below may see it before the timer
// does), while the caller's context is alive.
func (x *totalReq) expired() bool {
	if x.parent().Err() != nil {
		return false
	}
	if d, ok := x.parent().Deadline(); ok && !time.Now().Before(d) {
		return false
	}
	x.mu.Lock()
	fired := x.fired
	x.mu.Unlock()
	return fired || !time.Now().Before(x.deadline)
}

// mapErr returns the Total error, wrapping err, when the deadline is what
// ended the request, and err otherwise.
func (x *totalReq) mapErr(err error) error {
	if !x.expired() {
		return errclass.Wrap(err)
	}
	e := &Error{Phase: errclass.PhaseTotal, Limit: x.t.d, cause: err}
	if len(x.t.hooks) > 0 && x.reported.CompareAndSwap(false, true) {
		runHooks(x.t.hooks, x.req, e)
	}
	return e
}

// totalBody is the request seen as its response body (a conversion, so no
// allocation).
type totalBody totalReq

func (b *totalBody) Read(p []byte) (int, error) {
	x := (*totalReq)(b)
	n, err := x.rc.Read(p)
	if err != nil {
		x.finish()
		if err != io.EOF {
			err = x.mapErr(err)
		}
	}
	return n, err
}

func (b *totalBody) Close() error {
	x := (*totalReq)(b)
	err := x.rc.Close()
	x.finish()
	return err
}
