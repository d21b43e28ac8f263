package standard

import (
	"net/http"
	"sync"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/internal/layer"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
)

// Stack is the standard stack: an http.RoundTripper with access to its
// pieces. It is safe for concurrent use. Build it with New; the zero value is
// not usable.
type Stack struct {
	rt       http.RoundTripper
	base     *http.Transport
	tls      *tlsrotate.Transport
	retry    *swap[retry.Transport, *retry.Transport]
	budget   *retry.Budget
	hedge    *hedge.Transport
	limit    *limit.Transport
	breaker  *breaker.Transport
	timeouts *swap[timeouts.Transport, *timeouts.Transport]
	observer *Observer

	mu sync.Mutex // serialises Update; guards c
	c  config     // the options in force: New's, and Update's after them
}

var _ http.RoundTripper = (*Stack)(nil)

// New builds the stack described in the package doc with opts; a nil
// option is skipped. It panics, naming both settings, when one bound could
// never fire because another always fires first: a timeouts.WithAttempt
// above WithTotal, or a timeouts.WithResponseHeader above
// timeouts.WithAttempt; and when WithTLS is given over a base that is not
// an *http.Transport. [Describe] returns these as errors instead. Settings
// that only lose their effect in part are reported by [Stack.Config], never
// rejected.
func New(opts ...Option) *Stack {
	s := &Stack{c: newConfig(opts)}
	if err := s.c.check(); err != nil {
		panic(err.Error())
	}
	if s.c.tp != nil || s.c.mp != nil {
		s.observer = NewObserver(s.c.mp)
	}
	if s.c.on(LayerRetry) {
		s.budget = retry.NewBudget() // the retry layer's, shared with hedges
	}
	s.rt = chain.Build(s.bottom(), s.list()...)
	return s
}

// bottom returns the bottom of the stack: the base transport, under
// tlsrotate's with WithTLS.
func (s *Stack) bottom() http.RoundTripper {
	rt := s.c.base
	if rt == nil {
		s.base = timeouts.NewTransport(s.c.timeoutOptions()...)
		if s.c.on(LayerTimeouts) {
			// One enforcer per bound: the per-attempt layer bounds the
			// header wait (and Update can change it there).
			s.base.ResponseHeaderTimeout = 0
		}
		rt = s.base
	} else if t, ok := rt.(*http.Transport); ok {
		s.base = t
	}
	if s.c.tls != nil {
		s.tls = newTLS(rt, s.c.tls)
		rt = s.tls
		observeTLS(s.c.mp, s.tls)
	}
	if s.c.on(LayerHedge) {
		rt = s.hedgeSplit(rt)
	}
	return rt
}

// Transport returns New(opts...) as an http.RoundTripper; a caller that
// needs the pieces can assert it to *Stack.
func Transport(opts ...Option) http.RoundTripper { return New(opts...) }

// Client returns an *http.Client whose Transport is New(opts...). It sets no
// Client.Timeout: the timeouts layers bound each phase, WithTotal bounds a
// whole request, and the caller's context bounds anything else.
func Client(opts ...Option) *http.Client { return &http.Client{Transport: New(opts...)} }

// RoundTrip sends req through the stack. It follows the http.RoundTripper
// contract: the caller's request is never modified, its body is closed, and
// either a response or an error comes back, never both. Every error matches
// the sentinel of its class (errclass.ErrNetwork, ErrTimeout, ...) with
// errors.Is, whatever layer made it, and still reaches its cause.
func (s *Stack) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	resp, err = layer.Checked("standard", s.rt, req, resp, err)
	return resp, errclass.Wrap(err)
}

// Unwrap returns the outermost layer, so that chain.Base walks down to the
// base transport.
func (s *Stack) Unwrap() http.RoundTripper { return s.rt }

// CloseIdleConnections closes the idle connections of the base transport,
// through every layer.
func (s *Stack) CloseIdleConnections() {
	if c, ok := s.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Base returns the *http.Transport at the bottom of the stack: the one made
// by timeouts.NewTransport, or the one given to WithBase; nil when WithBase
// gave another kind of RoundTripper. Change its fields before the first
// request, as with any *http.Transport. The stack's own leaves
// ResponseHeaderTimeout to the per-attempt timeouts layer, the one enforcer
// of the header bound.
//
// With WithTLS it is the template of tlsrotate's connections: its TLS
// settings (RootCAs, ServerName, MinVersion...) apply to every connection,
// and the client certificate from the source is presented whatever
// TLSClientConfig holds (a CA bundle in the source replaces RootCAs). Fields
// changed after the first request apply from tlsrotate's next generation of
// connections on (after a rotation or a renewal).
func (s *Stack) Base() *http.Transport { return s.base }

// Breaker returns the breaker layer, to read circuit states
// (Breaker().State(host)) or change thresholds at run time; nil when the
// layer was removed or replaced.
func (s *Stack) Breaker() *breaker.Transport { return s.breaker }

// Retry returns the retry layer in force (after [Stack.Update], the new
// one); nil when the layer was removed or replaced.
func (s *Stack) Retry() *retry.Transport { return s.retry.load() }

// Budget returns the retry budget of the stack, one per Stack, shared by
// every host: one token bucket (ratio 0.1, floor 10 retries per second)
// bounds the retries of all of them together, and the hedges of WithHedge
// too. nil when the retry layer was removed or replaced. With
// WithRetry(retry.WithBudget(b)) or retry.WithKeyedBudget the retry layer
// uses that budget instead.
func (s *Stack) Budget() *retry.Budget { return s.budget }

// Hedge returns the hedge layer; nil without WithHedge, or when the layer
// was replaced.
func (s *Stack) Hedge() *hedge.Transport { return s.hedge }

// Limit returns the limit layer, for its per-host Stats and Keys; nil
// without WithLimit, or when the layer was replaced.
func (s *Stack) Limit() *limit.Transport { return s.limit }

// Timeouts returns the per-attempt timeouts layer in force (after
// [Stack.Update], the new one); nil when it was removed or replaced.
func (s *Stack) Timeouts() *timeouts.Transport { return s.timeouts.load() }

// Observer returns the Observer that records the layers' events as metrics
// and span events, or nil when neither WithTracerProvider nor
// WithMeterProvider was given.
func (s *Stack) Observer() *Observer { return s.observer }
