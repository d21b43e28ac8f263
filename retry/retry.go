package retry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/layer"
	"github.com/rtchain/chain/internal/record"
)

// Attempt returns the number of the attempt whose request carries ctx: 0 for
// the first, 1 for the first retry, and so on. A context that did not come
// through a retry layer gives 0.
func Attempt(ctx context.Context) int { return attempt.From(ctx) }

// Transport is an [http.RoundTripper] that retries the requests it sends
// through the next one. Make it with [New] or [Middleware]; the zero value
// is not usable. It is safe for concurrent use.
type Transport struct {
	layer.Next
	cfg config
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that sends requests through next, retrying them as
// the options say. A nil next means [http.DefaultTransport]. An invalid
// option value panics when the option is made.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, resolve(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	if !c.budgetSet {
		c.keyed = NewKeyedBudget(defaultBudgetKeys)
	}
	return &Transport{Next: layer.Of(next), cfg: c}
}

// Middleware returns a function that wraps a RoundTripper in a [Transport]
// with opts; it is assignable to chain.Middleware. The options are resolved
// once; each wrapped RoundTripper gets its own default budget unless a
// budget option gives a shared one.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := resolve(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// budgetFor returns the budget that req's retries take their tokens from,
// or nil when the budget is off.
func (t *Transport) budgetFor(req *http.Request) *Budget {
	c := &t.cfg
	switch {
	case c.budget != nil:
		return c.budget
	case c.keyed == nil:
		return nil
	case c.budgetKey != nil:
		return c.keyed.Budget(c.budgetKey(req))
	}
	return c.keyed.forHost(req)
}

// RoundTrip sends req through the next RoundTripper, retrying as configured.
// It returns the last response with a nil error, or an error with a nil
// response; req is never modified and its body is closed on every path.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	r := run{t: t, req: req, ctx: ctx, rec: record.From(ctx), budget: t.budgetFor(req),
		idem: t.cfg.nonIdempotent || idempotent(req)}
	if r.budget != nil {
		r.budget.deposit()
	}
	var o Outcome
	r.send(&o, r.first())
	for {
		s, reason := r.plan(&o)
		if reason != "" {
			return r.finish(&o, reason)
		}
		if err := pause(ctx, s.wait, s.grace, o.Response); err != nil {
			closeBody(s.body)
			return r.finish(&Outcome{Err: err, Class: errclass.Classify(err)}, r.ctxReason())
		}
		r.send(&o, r.next(s, &o))
	}
}

// run is the state of one RoundTrip.
type run struct {
	t        *Transport
	req      *http.Request // the caller's
	ctx      context.Context
	rec      *record.Record
	budget   *Budget
	tee      *teeBody // the first attempt's body under WithBufferBody, or nil
	idem     bool
	calls    int // attempts handed to the next layer
	timeouts int
	prevWait time.Duration // the wait before the attempt just made
	last     Outcome       // the last outcome not refused below
	hasLast  bool
}

// step is the plan of the next attempt.
type step struct {
	wait, grace time.Duration
	body        io.ReadCloser // the next attempt's request body, or nil
}

// first returns the request of the first attempt: the caller's own, unless
// an outer layer numbered its context or WithBufferBody must copy its body.
func (r *run) first() *http.Request {
	req := r.req
	if attempt.From(r.ctx) != 0 { // an outer layer numbered the context; number ours from 0
		req = req.Clone(attempt.With(r.ctx, 0))
	}
	if c := &r.t.cfg; c.bufferBody > 0 && c.maxAttempts > 1 && !replayable(req) {
		if req == r.req {
			req = req.Clone(r.ctx)
		}
		r.tee = newTeeBody(req.Body, c.bufferBody, req.ContentLength)
		req.Body = r.tee
	}
	return req
}

// send runs one attempt, enforces the RoundTripper result contract and
// classifies the outcome once, into o.
func (r *run) send(o *Outcome, req *http.Request) {
	r.calls++
	next := r.t.RT()
	resp, err := next.RoundTrip(req)
	resp, err = layer.Checked("retry", next, req, resp, err)
	*o = Outcome{Request: req, Attempt: r.calls - 1, Response: resp, Err: err, Idempotent: r.idem}
	o.classify()
	if !refused(o.Class) {
		r.rec.Attempt()
	}
	if o.Class == errclass.Timeout {
		r.timeouts++
	}
	o.Timeouts = r.timeouts
}

// refused reports whether an outcome of class c is a layer below refusing
// the attempt without sending it.
func refused(c errclass.Class) bool { return c == errclass.BreakerOpen || c == errclass.Limited }

// next returns the request of the next attempt, planned by s after outcome
// o, and calls the WithOnRetry hooks: it is sent right after.
func (r *run) next(s step, o *Outcome) *http.Request {
	c := &r.t.cfg
	n := r.calls
	r.prevWait = s.wait
	ctx := attempt.With(r.ctx, n)
	if n == c.maxAttempts-1 {
		ctx = attempt.WithLast(r.ctx, n) // layers below may report its failure as final
	}
	req := r.req.Clone(ctx)
	if s.body != nil {
		req.Body = s.body
	}
	if r.tee != nil {
		if b, ok := r.tee.copied(); ok {
			req.GetBody = replayBody(b)
		}
	}
	if c.header != "" {
		if req.Header == nil {
			req.Header = make(http.Header)
		}
		req.Header[c.header] = []string{strconv.Itoa(n)}
	}
	if len(c.onRetry) > 0 {
		e := Event{Request: r.req, Attempt: n, Wait: s.wait, Reason: eventReason(o)}
		for _, f := range c.onRetry {
			f(e)
		}
	}
	return req
}

// eventReason names why an outcome is retried, for Event.Reason.
func eventReason(o *Outcome) string {
	if o.Err != nil {
		return o.Class.String()
	}
	return strconv.Itoa(o.Response.StatusCode)
}

// finish ends RoundTrip with outcome o, stopped for reason: when the layer
// below refused the last attempt, the last real outcome goes back instead.
// A failure calls the give-up hooks and writes the reason into the
// request's record.
func (r *run) finish(o *Outcome, reason GiveUpReason) (*http.Response, error) {
	if refused(o.Class) && r.hasLast {
		o = &r.last
	}
	err := o.Err
	if err != nil {
		if r.calls > 1 {
			err = &Error{Attempts: r.calls, Reason: reason, Err: err}
		} else {
			err = errclass.Wrap(err)
		}
	}
	if o.Class != errclass.OK {
		r.giveUp(o, reason, err)
	}
	if err != nil {
		return nil, err
	}
	return o.Response, nil
}

func (r *run) giveUp(o *Outcome, reason GiveUpReason, err error) {
	r.rec.GiveUp(string(reason))
	c := &r.t.cfg
	if len(c.onGiveUp) == 0 {
		return
	}
	g := GiveUp{Request: r.req, Attempts: r.calls, Reason: reason, Class: o.Class, Err: err}
	if o.Response != nil {
		g.StatusCode = o.Response.StatusCode
	}
	for _, f := range c.onGiveUp {
		f(g)
	}
}
