package standard

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/tracing"
)

// Defaults that the standard stack sets on the per-attempt timeouts layer.
// The other bounds are the timeouts package's own (DNS 1 s, connect 500 ms
// per address, TLS handshake 2 s, write idle 30 s), set on the base
// transport by timeouts.NewTransport.
const (
	// DefaultResponseHeader bounds the wait for the response header of each
	// attempt, from the moment the request is written (net/http's
	// ResponseHeaderTimeout meaning). net/http has no such bound, so a
	// server that accepts and never answers hangs its caller (D1). The
	// timeouts package's own default, 3 s, suits calls inside one data
	// centre; the standard stack, meant for any service, allows 10 s.
	DefaultResponseHeader = 10 * time.Second
	// DefaultBodyIdle bounds the time without a byte of the response body
	// (the timeouts package's own default); a stream that keeps delivering
	// is never cut, however long it runs.
	DefaultBodyIdle = 30 * time.Second
)

// Layer names one layer of the stack, for WithLayer and WithoutLayer.
type Layer int

// The layers, outermost first.
const (
	LayerRequestID Layer = iota // tracing.RequestID
	LayerTotal                  // timeouts.Total (off unless WithTotal)
	LayerRetry                  // retry
	LayerBreaker                // breaker
	LayerSpans                  // tracing.Spans (off unless a provider or logger is given)
	LayerTimeouts               // timeouts, per attempt
	numLayers
)

var layerNames = [numLayers]string{"request_id", "total", "retry", "breaker", "spans", "timeouts"}

// String returns the layer's name: request_id, total, retry, breaker, spans or
// timeouts.
func (l Layer) String() string {
	if l < 0 || l >= numLayers {
		return "layer(" + strconv.Itoa(int(l)) + ")"
	}
	return layerNames[l]
}

// Option configures a Stack.
type Option func(*config)

type config struct {
	base         http.RoundTripper
	tls          *tlsrotate.Source
	total        time.Duration
	timeoutOpts  []timeouts.Option
	retryOpts    []retry.Option
	breakerOpts  []breaker.Option
	tracingOpts  []tracing.Option
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	logger       *slog.Logger
	replaced     [numLayers]bool
	replacements [numLayers]func(http.RoundTripper) http.RoundTripper
}

// WithBase replaces the bottom transport, by default
// timeouts.NewTransport() with the options of WithTimeouts. A fake
// RoundTripper in tests, or a caller's own *http.Transport, goes here; every
// layer above still applies. nil means the default. Given twice, the last
// wins.
func WithBase(rt http.RoundTripper) Option {
	return func(c *config) { c.base = rt }
}

// WithTimeouts passes opts to the timeouts package: to
// timeouts.NewTransport (DNS, connect, TLS handshake, HTTP/2 pings) and to the
// per-attempt layer (response header, body idle, write idle, attempt). They
// apply after this package's defaults. Given more than once, the lists are
// appended.
func WithTimeouts(opts ...timeouts.Option) Option {
	return func(c *config) { c.timeoutOpts = append(c.timeoutOpts, opts...) }
}

// WithTotal sets one deadline d over every attempt and every wait of a
// request (timeouts.Total, placed above retry). Off by default: the caller's
// context bounds the whole request. d must be > 0. Given twice, the last wins.
func WithTotal(d time.Duration) Option {
	if d <= 0 {
		panic("standard: WithTotal(" + d.String() + "): need a positive duration")
	}
	return func(c *config) { c.total = d }
}

// WithRetry passes opts to the retry layer, after the stack's default (its
// own Budget). Given more than once, the lists are appended.
func WithRetry(opts ...retry.Option) Option {
	return func(c *config) { c.retryOpts = append(c.retryOpts, opts...) }
}

// WithBreaker passes opts to the breaker layer. Given more than once, the
// lists are appended.
func WithBreaker(opts ...breaker.Option) Option {
	return func(c *config) { c.breakerOpts = append(c.breakerOpts, opts...) }
}

// WithTracing passes opts to tracing.RequestID and tracing.Spans (for example
// tracing.WithHeader, tracing.WithPropagators, tracing.WithFilter or
// tracing.WithLogicalSpan). They do not turn the spans layer on by
// themselves, and the providers and logger come from WithTracerProvider,
// WithMeterProvider and WithLogger. Given more than once, the lists are
// appended.
func WithTracing(opts ...tracing.Option) Option {
	return func(c *config) { c.tracingOpts = append(c.tracingOpts, opts...) }
}

// WithTracerProvider turns the spans layer on, with one client span per
// attempt from tp, and adds retries to the request's span as events. Spans
// go to tp only, never to the global provider. Off by default. Given twice,
// the last wins.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider turns the spans layer on for the HTTP client duration
// metric, and records the layers' events (retries, breaker transitions and
// rejections, timeouts by phase) as chain.* metrics through an [Observer].
// Metrics go to mp only, never to the global provider. Off by default. Given
// twice, the last wins.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithLogger turns logging on: one summary record per request from the
// request id layer, and one record per attempt from the spans layer (see the
// tracing package for their fields and levels). WithLogger alone makes no
// span and records no metric. Off by default: the stack is silent. Given
// twice, the last wins.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithTLS puts a tlsrotate transport at the bottom of the stack, so that
// client certificates (and the CA bundle, when the source has one) come from
// src, rotate without failing requests, and are renewed when a server
// rejects them: a failed handshake makes the stack re-read src at once and
// handshake afresh, and the breaker does not count those failures unless
// the fresh connections fail too (see the tlsrotate package). The base must
// then be an *http.Transport (the default is; New panics otherwise): it is
// the template of tlsrotate's connections, and [Stack.Base] still returns
// it. With WithMeterProvider, the chain.tls.* metrics of [ObserveTLS] are
// recorded. The caller keeps src and closes it. Off by default. Given
// twice, the last wins.
func WithTLS(src *tlsrotate.Source) Option {
	return func(c *config) { c.tls = src }
}

// WithLayer replaces layer l with mw, at the same place in the stack; a nil
// mw removes the layer, as WithoutLayer does. The options for the replaced
// layer are then ignored and the Stack's accessor for it returns nil.
// Given twice for the same layer, the last wins.
func WithLayer(l Layer, mw func(http.RoundTripper) http.RoundTripper) Option {
	if l < 0 || l >= numLayers {
		panic("standard: WithLayer(" + l.String() + "): no such layer")
	}
	return func(c *config) {
		c.replaced[l] = true
		c.replacements[l] = mw
	}
}

// WithoutLayer removes the layers ls from the stack.
func WithoutLayer(ls ...Layer) Option {
	opts := make([]Option, len(ls))
	for i, l := range ls {
		opts[i] = WithLayer(l, nil)
	}
	return func(c *config) {
		for _, o := range opts {
			o(c)
		}
	}
}

// Stack is the standard stack: an http.RoundTripper with access to its
// pieces. It is safe for concurrent use. Build it with New; the zero value is
// not usable.
type Stack struct {
	rt       http.RoundTripper
	base     *http.Transport
	retry    *retry.Transport
	budget   *retry.Budget
	breaker  *breaker.Transport
	timeouts *timeouts.Transport
	tls      *tlsrotate.Transport
	observer *Observer
}

var _ http.RoundTripper = (*Stack)(nil)

// New builds the stack described in the package doc with opts.
func New(opts ...Option) *Stack {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := &Stack{}
	spans := c.tp != nil || c.mp != nil || c.logger != nil
	if c.tp != nil || c.mp != nil {
		s.observer = NewObserver(c.mp)
	}

	// Bottom up.
	topts := append([]timeouts.Option{
		timeouts.WithResponseHeader(DefaultResponseHeader),
		timeouts.WithBodyIdle(DefaultBodyIdle),
	}, c.timeoutOpts...)
	rt := c.base
	if rt == nil {
		s.base = timeouts.NewTransport(topts...)
		rt = s.base
	} else if t, ok := rt.(*http.Transport); ok {
		s.base = t
	}
	if c.tls != nil {
		s.tls = newTLS(rt, c.tls)
		rt = s.tls
		observeTLS(c.mp, s.tls)
	}

	rt = s.layer(&c, LayerTimeouts, rt, func(next http.RoundTripper) http.RoundTripper {
		s.timeouts = timeouts.New(next, append(s.timeoutHooks(), topts...)...)
		return s.timeouts
	})
	if spans {
		rt = s.layer(&c, LayerSpans, rt, func(next http.RoundTripper) http.RoundTripper {
			return tracing.New(next, c.telemetry()...)
		})
	} else if c.replaced[LayerSpans] && c.replacements[LayerSpans] != nil {
		rt = c.replacements[LayerSpans](rt)
	}
	rt = s.layer(&c, LayerBreaker, rt, func(next http.RoundTripper) http.RoundTripper {
		bo := append([]breaker.Option{breaker.WithRetryAfter(60 * time.Second)}, s.breakerHooks()...)
		s.breaker = breaker.New(next, append(bo, c.breakerOpts...)...)
		return s.breaker
	})
	rt = s.layer(&c, LayerRetry, rt, func(next http.RoundTripper) http.RoundTripper {
		s.budget = retry.NewBudget()
		ro := append([]retry.Option{retry.WithBudget(s.budget)}, s.retryHooks()...)
		s.retry = retry.New(next, append(ro, c.retryOpts...)...)
		return s.retry
	})
	if c.total > 0 || c.replaced[LayerTotal] {
		rt = s.layer(&c, LayerTotal, rt, func(next http.RoundTripper) http.RoundTripper {
			return timeouts.Total(c.total)(next)
		})
	}
	rt = s.layer(&c, LayerRequestID, rt, func(next http.RoundTripper) http.RoundTripper {
		return tracing.NewRequestID(next, c.telemetry()...)
	})
	s.rt = rt
	return s
}

// layer applies the default build of l, or its replacement.
func (s *Stack) layer(c *config, l Layer, next http.RoundTripper, build func(http.RoundTripper) http.RoundTripper) http.RoundTripper {
	if !c.replaced[l] {
		return build(next)
	}
	if mw := c.replacements[l]; mw != nil {
		return mw(next)
	}
	return next
}

// Transport returns New(opts...) as an http.RoundTripper; a caller that
// needs the pieces can assert it to *Stack.
func Transport(opts ...Option) http.RoundTripper { return New(opts...) }

// Client returns an *http.Client whose Transport is New(opts...). It sets no
// Client.Timeout: the timeouts layers bound each phase, WithTotal bounds a
// whole request, and the caller's context bounds anything else.
func Client(opts ...Option) *http.Client { return &http.Client{Transport: New(opts...)} }

// errNilResponse replaces a (nil, nil) result of the layers below, which
// would make net/http panic.
var errNilResponse = errors.New("standard: transport returned neither a response nor an error")

// RoundTrip sends req through the stack. It follows the http.RoundTripper
// contract: the caller's request is never modified, its body is closed, and
// either a response or an error comes back, never both. Every error matches
// the sentinel of its class (errclass.ErrNetwork, ErrTimeout, ...) with
// errors.Is, whatever layer made it, and still reaches its cause.
func (s *Stack) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	if resp == nil && err == nil {
		return nil, errNilResponse
	}
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
// request, as with any *http.Transport.
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

// Retry returns the retry layer; nil when it was removed or replaced.
func (s *Stack) Retry() *retry.Transport { return s.retry }

// Budget returns the retry budget of the stack; nil when the retry layer was
// removed or replaced. With WithRetry(retry.WithBudget(b)) the layer uses b
// and this budget is unused.
func (s *Stack) Budget() *retry.Budget { return s.budget }

// Timeouts returns the per-attempt timeouts layer; nil when it was removed or
// replaced.
func (s *Stack) Timeouts() *timeouts.Transport { return s.timeouts }

// Observer returns the Observer that records the layers' events as metrics
// and span events, or nil when neither WithTracerProvider nor
// WithMeterProvider was given.
func (s *Stack) Observer() *Observer { return s.observer }
