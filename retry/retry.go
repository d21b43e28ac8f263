// Package retry resends HTTP requests that failed in a way worth retrying,
// without burying a struggling service.
//
// A [Transport] wraps the next [http.RoundTripper] and runs the attempt loop:
// a [PolicyFunc] decides whether an outcome is worth another attempt
// ([DefaultPolicy] by default, built on [errclass]), waits follow an
// exponential backoff with jitter or the server's Retry-After, and a shared
// [Budget] keeps retries to a small share of the traffic.
//
//	client := &http.Client{Transport: retry.New(nil, retry.WithMaxAttempts(4))}
//
// # What is retried
//
// Only requests that are safe to send twice: methods GET, HEAD, OPTIONS,
// TRACE, PUT and DELETE, or any request carrying an Idempotency-Key (or
// X-Idempotency-Key) header; POST and PATCH only with [WithNonIdempotent],
// or, whatever the method, after an error that proves the request never
// reached the server (connection refused, failed dial, TLS handshake
// failure, refused HTTP/2 stream). A request with a body is retried only when
// its GetBody can produce the body again, and each attempt sends the whole
// body from a fresh GetBody. The package never buffers a body behind the
// caller's back: a request whose body cannot be replayed (Body set, GetBody
// nil) is sent exactly once. [http.NewRequest] sets GetBody for
// *bytes.Buffer, *bytes.Reader and *strings.Reader bodies. As net/http asks,
// GetBody must return a new copy of the body each time, one that shares no
// read position with the others: it is called for the next attempt while the
// transport may still be reading the previous attempt's body (a GetBody that
// seeks one shared *os.File back to the start breaks this; open the file
// again, or use an io.NewSectionReader per call). If GetBody fails, the last
// response or error goes back as it is.
//
// The caller's own cancellation or deadline is never retried, nor is a
// circuit breaker's rejection (class [errclass.BreakerOpen]).
//
// # Waits and deadlines
//
// On 429 and 503 a valid Retry-After header (delta-seconds or an HTTP date)
// replaces the backoff; if it asks for more than the cap ([WithRetryAfterCap])
// the response is returned at once. A wait that would end after the request
// context's deadline is not started: the last response or error is returned
// now. Cancelling the context during a wait returns at once with an error
// that matches the context's error.
//
// A malformed, negative or overflowing Retry-After is ignored (the backoff
// applies); a date in the past means no wait.
//
// # Budget
//
// Every Transport counts its requests in a [Budget] and takes a token from
// it for each retry: by default its own [NewBudget]() (retries up to 10 % of
// requests plus 10 per second), or one shared between Transports with
// [WithBudget]. When the budget is spent, the last response or error goes
// back as it is.
//
// Waits use the time package's timers, so tests drive them exactly inside a
// [testing/synctest] bubble; the random source of the jitter can be replaced
// with [WithRandom].
//
// # Bodies and errors
//
// The response returned is never read: after the last attempt the caller
// gets the last response, body intact, with a nil error. Every response
// that is not returned is drained (at most 64 KiB, and only while the wait
// before the next attempt lasts, on a goroutine that ends before the next
// attempt starts) and closed, so its connection can be reused. When attempts run out on errors, the error returned is an
// [*Error] that says how many attempts were made and wraps the last error,
// so errors.Is, errors.As and [errclass.Classify] see through it.
//
// # Inner layers
//
// Every attempt after the first sends a clone of the caller's request whose
// context carries the attempt number, read with [Attempt]; the first attempt
// sends the caller's request itself (its number, 0, is what [Attempt]
// reports when no number is set). The last attempt that [WithMaxAttempts]
// allows is also marked as last, so the tracing layer logs its failure as
// final. The caller's request is never modified.
// The retry layer never calls CloseIdleConnections by itself.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/layer"
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

// Option configures a [Transport].
type Option func(*config)

// config is the resolved configuration of a Transport.
type config struct {
	maxAttempts   int
	backoff       backoff
	policy        PolicyFunc
	retryAfterCap time.Duration
	budget        *Budget
	budgetSet     bool
	nonIdempotent bool
	onRetry       func(Event)
	random        func() float64
	header        string
}

// Defaults of the options.
const (
	defaultMaxAttempts   = 3
	defaultBase          = 100 * time.Millisecond
	defaultCap           = 10 * time.Second
	defaultRetryAfterCap = 30 * time.Second
	drainLimit           = 64 << 10
)

func resolve(opts []Option) config {
	c := config{
		maxAttempts:   defaultMaxAttempts,
		backoff:       backoff{base: defaultBase, cap: defaultCap, jitter: JitterFull},
		policy:        DefaultPolicy,
		retryAfterCap: defaultRetryAfterCap,
		random:        rand.Float64,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithMaxAttempts sets how many attempts a request gets in all, the first
// one included: n = 1 disables retries, n = 3 (the default) allows two
// retries. n must be at least 1. Given twice, the last wins.
func WithMaxAttempts(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("retry: WithMaxAttempts(%d): need at least 1", n))
	}
	return func(c *config) { c.maxAttempts = n }
}

// WithBackoff sets the wait between attempts: exponential from base,
// doubling per retry, never above max, randomised by j (see [Jitter]). The
// default is base 100 ms, max 10 s, [JitterFull]. base must be > 0 and max
// ≥ base. Given twice, the last wins. Retry-After, when honoured, replaces
// the backoff.
func WithBackoff(base, max time.Duration, j Jitter) Option {
	switch {
	case base <= 0:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): base must be > 0", base, max, j))
	case max < base:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): max must be ≥ base", base, max, j))
	case j > JitterNone:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): unknown jitter", base, max, j))
	}
	return func(c *config) { c.backoff = backoff{base: base, cap: max, jitter: j} }
}

// WithPolicy replaces the decision of which outcomes are worth another
// attempt. The default, and what a nil p means, is [DefaultPolicy]. Given
// twice, the last wins.
func WithPolicy(p PolicyFunc) Option {
	return func(c *config) {
		if p == nil {
			p = DefaultPolicy
		}
		c.policy = p
	}
}

// WithRetryAfterCap sets the longest Retry-After the Transport honours on
// 429 and 503 responses; a longer one ends the loop and the response is
// returned at once. The default is 30 s; d must be ≥ 0 (0 honours only
// "Retry-After: 0" and dates in the past). Given twice, the last wins.
func WithRetryAfterCap(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("retry: WithRetryAfterCap(%v): need a duration ≥ 0", d))
	}
	return func(c *config) { c.retryAfterCap = d }
}

// WithBudget makes the Transport take a token from b for every retry and
// count every request in it; share one Budget between the Transports that
// talk to the same service. Without this option each Transport gets its own
// [NewBudget](); WithBudget(nil) turns the budget off. Given twice, the last
// wins.
func WithBudget(b *Budget) Option {
	return func(c *config) { c.budget, c.budgetSet = b, true }
}

// WithNonIdempotent opts in to retrying requests whose method is not
// idempotent (POST, PATCH, ...) and that carry no Idempotency-Key, as if
// they were idempotent. Off by default. Their bodies must still be
// replayable.
func WithNonIdempotent() Option {
	return func(c *config) { c.nonIdempotent = true }
}

// Event describes a retry that is about to happen, for [WithOnRetry].
type Event struct {
	// Request is the caller's request. Read it, never change it.
	Request *http.Request
	// Attempt is the number of the attempt about to start (1 for the
	// first retry), as [Attempt] will report it.
	Attempt int
	// Wait is how long the Transport waits before that attempt.
	Wait time.Duration
	// Reason is why: the [errclass.Class] name of the error ("reset",
	// "timeout", ...) or the status code of the response ("503").
	Reason string
}

// WithOnRetry sets a hook called before every wait, on the request's
// goroutine and outside any lock; it must return quickly. Default none;
// given twice, the last wins.
func WithOnRetry(f func(Event)) Option {
	return func(c *config) { c.onRetry = f }
}

// WithRandom sets the random source of the jitter: f returns a float in
// [0, 1) and must be safe for concurrent use if the Transport is. The
// default, and what nil means, is math/rand/v2's Float64. Given twice, the
// last wins.
func WithRandom(f func() float64) Option {
	return func(c *config) {
		if f == nil {
			f = rand.Float64
		}
		c.random = f
	}
}

// WithAttemptHeader makes every retry carry a header named name whose value
// is the number of attempts made before it ("1" on the first retry), like
// gRPC's grpc-previous-rpc-attempts, so the server can tell a retry. The
// first attempt carries no such header. Off by default; name must not be
// empty. Given twice, the last wins.
func WithAttemptHeader(name string) Option {
	if name == "" {
		panic("retry: WithAttemptHeader(\"\"): need a header name")
	}
	name = http.CanonicalHeaderKey(name)
	return func(c *config) { c.header = name }
}

// New returns a Transport that sends requests through next, retrying them as
// the options say. A nil next means [http.DefaultTransport]. An invalid
// option value panics when the option is made.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, resolve(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	if !c.budgetSet {
		c.budget = NewBudget()
	}
	return &Transport{Next: layer.Of(next), cfg: c}
}

// Middleware returns a function that wraps a RoundTripper in a [Transport]
// with opts; it is assignable to chain.Middleware. The options are resolved
// once; each wrapped RoundTripper gets its own default budget unless
// [WithBudget] gives a shared one.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := resolve(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// Error is returned when a request fails after more than one attempt: the
// last attempt's error, or the context's error when it was cancelled during
// a wait. It wraps Err, so errors.Is, errors.As and [errclass.Classify] see
// the cause.
type Error struct {
	Attempts int   // attempts made
	Err      error // the last error
}

func (e *Error) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("retry: gave up after %d attempt%s: %v", e.Attempts, s, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether Err is a timeout, so that [url.Error.Timeout]
// keeps working through the retry layer.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

var errNilResponse = errors.New("retry: next round tripper returned a nil response and a nil error")

// RoundTrip sends req through the next RoundTripper, retrying as configured.
// It returns the last response with a nil error, or an error with a nil
// response; req is never modified and its body is closed on every path.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &t.cfg
	ctx := req.Context()
	if c.budget != nil {
		c.budget.deposit()
	}
	r := req
	if attempt.From(ctx) != 0 {
		// An outer layer numbered the context; number ours from 0.
		r = req.Clone(attempt.With(ctx, 0))
	}
	resp, err := t.send(r)
	if c.maxAttempts == 1 {
		return resp, err
	}

	var (
		n         = 1 // attempts made
		timeouts  int
		prevWait  time.Duration
		canReplay = replayable(req)
		idem      = c.nonIdempotent || idempotent(req)
	)
	for ; n < c.maxAttempts; n++ {
		class := errclass.Classify(err) // OK for a response
		if class == errclass.Timeout {
			timeouts++
		}
		if ctx.Err() != nil || !canReplay || class == errclass.BreakerOpen {
			break
		}
		if !c.policy(Outcome{Request: r, Attempt: n - 1, Response: resp, Err: err, Idempotent: idem, Timeouts: timeouts}) {
			break
		}
		wait, ok := t.wait(resp, n-1, prevWait)
		if !ok {
			break
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			break
		}
		var body io.ReadCloser
		if req.Body != nil && req.Body != http.NoBody {
			b, gerr := req.GetBody()
			if gerr != nil || b == nil {
				break
			}
			body = b
		}
		if c.budget != nil && !c.budget.withdraw(time.Now()) {
			if body != nil {
				body.Close()
			}
			break
		}
		if c.onRetry != nil {
			c.onRetry(Event{Request: req, Attempt: n, Wait: wait, Reason: reason(resp, err)})
		}
		if perr := pause(ctx, wait, resp); perr != nil {
			if body != nil {
				body.Close()
			}
			return nil, &Error{Attempts: n, Err: perr}
		}
		prevWait = wait
		actx := attempt.With(ctx, n)
		if n == c.maxAttempts-1 {
			actx = attempt.WithLast(ctx, n) // layers below may report its failure as final
		}
		r = req.Clone(actx)
		if body != nil {
			r.Body = body
		}
		if c.header != "" {
			if r.Header == nil {
				r.Header = make(http.Header)
			}
			r.Header[c.header] = []string{strconv.Itoa(n)}
		}
		resp, err = t.send(r)
	}
	if err != nil && n > 1 {
		err = &Error{Attempts: n, Err: err}
	}
	return resp, err
}

// send runs one attempt and enforces the RoundTripper result contract.
func (t *Transport) send(r *http.Request) (*http.Response, error) {
	resp, err := t.RT().RoundTrip(r)
	switch {
	case err != nil && resp != nil:
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case err == nil && resp == nil:
		return nil, errNilResponse
	}
	return resp, err
}

// wait returns how long to wait before retry k after resp (nil after an
// error), and false when Retry-After asks for more than the cap.
func (t *Transport) wait(resp *http.Response, k int, prev time.Duration) (time.Duration, bool) {
	c := &t.cfg
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return d, d <= c.retryAfterCap
		}
	}
	return c.backoff.wait(k, prev, c.random), true
}

// pause waits d or until ctx is done, whichever comes first, and returns
// the context's error in the second case, wrapping its cause too when that
// differs. Meanwhile it drains at most drainLimit bytes of the discarded
// response's body on another goroutine (a read cannot be bounded in time
// otherwise); when the wait is over it closes the body, which stops a drain
// still in progress, and waits for that goroutine, so none outlives the
// call. With no wait at all the body is closed undrained.
func pause(ctx context.Context, d time.Duration, discard *http.Response) error {
	var rc io.ReadCloser
	if discard != nil {
		rc = discard.Body
	}
	var drained chan struct{}
	if rc != nil && d > 0 {
		drained = make(chan struct{})
		go func() {
			defer close(drained)
			io.CopyN(io.Discard, rc, drainLimit)
		}()
	}
	var err error
	if d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
		if cause := context.Cause(ctx); cause != cerr {
			err = fmt.Errorf("%w (%w)", cerr, cause)
		}
	}
	if rc != nil {
		rc.Close()
		if drained != nil {
			<-drained
		}
	}
	return err
}

// reason names why an outcome is retried, for Event.Reason.
func reason(resp *http.Response, err error) string {
	if err != nil {
		return errclass.Classify(err).String()
	}
	return strconv.Itoa(resp.StatusCode)
}
