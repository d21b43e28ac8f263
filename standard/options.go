package standard

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/limit"
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
	// server that accepts and never answers hangs its caller. The
	// timeouts package's own default, 3 s, suits calls inside one data
	// centre; the standard stack, meant for any service, allows 10 s. It
	// gives way to a shorter bound that covers the header wait too: with
	// an attempt bound (timeouts.WithAttempt) or a total (WithTotal) of at
	// most 10 s and no header bound of your own, the stack sets none, as it
	// could never fire.
	DefaultResponseHeader = 10 * time.Second
	// DefaultBodyIdle bounds the time without a byte of the response body
	// (the timeouts package's own default); a stream that keeps delivering
	// is never cut, however long it runs.
	DefaultBodyIdle = 30 * time.Second
	// DefaultRetryAfter is the longest Retry-After of a 429 or 503 that
	// pauses a host for every caller of the stack (breaker.WithRetryAfter).
	DefaultRetryAfter = 60 * time.Second
)

// Option configures a Stack, in New and Update. A nil Option is skipped.
type Option func(*config)

// config is what the options of New ask for.
type config struct {
	base        http.RoundTripper
	tls         *tlsrotate.Source
	total       time.Duration
	timeoutOpts []timeouts.Option
	retryOpts   []retry.Option
	hedgeOpts   []hedge.Option
	hedge       bool // the hedge layer is on
	limitOpts   []limit.Option
	limit       bool // the limit layer is on
	breakerOpts []breaker.Option
	tracingOpts []tracing.Option
	tp          trace.TracerProvider
	mp          metric.MeterProvider
	logger      *slog.Logger
	slots       [numLayers]slot // set by WithLayer and WithoutLayer
}

// slot is a layer's place in the stack when WithLayer set it.
type slot struct {
	set bool
	mw  func(http.RoundTripper) http.RoundTripper // nil: the layer is removed
}

// newConfig applies opts in order, skipping nil ones.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
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
// per-attempt layer (response header, body idle, write idle, attempt); a
// timeouts.WithOnTimeout hook among them also sees the timeouts of
// WithTotal. They apply after this package's defaults. Given more than
// once, the lists are appended. In Update, only the per-attempt bounds may
// change.
//
// New panics when an attempt bound (timeouts.WithAttempt) is above the
// total (WithTotal), or a response header bound of yours is above the
// attempt bound: the lower bound always fires first, and the other could
// never fire.
func WithTimeouts(opts ...timeouts.Option) Option {
	return func(c *config) { c.timeoutOpts = append(slices.Clip(c.timeoutOpts), opts...) }
}

// WithTotal sets one deadline d over every attempt and every wait of a
// request (timeouts.Total, placed above retry). Off by default: the caller's
// context bounds the whole request. d must be > 0. Given twice, the last
// wins. It cannot change in Update.
func WithTotal(d time.Duration) Option {
	if d <= 0 {
		panic("standard: WithTotal(" + d.String() + "): need a positive duration")
	}
	return func(c *config) { c.total = d }
}

// WithRetry passes opts to the retry layer, after the stack's default (its
// own Budget). Given more than once, the lists are appended; in Update,
// they are appended to those given before, so the last value of a setting
// wins.
func WithRetry(opts ...retry.Option) Option {
	return func(c *config) { c.retryOpts = append(slices.Clip(c.retryOpts), opts...) }
}

// WithBreaker passes opts to the breaker layer, after the stack's default
// (breaker.WithRetryAfter(DefaultRetryAfter)). Given more than once, the
// lists are appended. In Update they go to the breaker's own Update, which
// keeps every breaker's state.
func WithBreaker(opts ...breaker.Option) Option {
	return func(c *config) { c.breakerOpts = append(slices.Clip(c.breakerOpts), opts...) }
}

// WithHedge turns the hedge layer on (off by default), with opts: a slow
// attempt gets a hedge, a second copy sent after the host's recent P95 time
// to response headers, and the first response wins (see the hedge
// package). It sits below retry, so that retry judges the winner once and
// each retry can be hedged, and above the limit, the breaker, the spans and
// the per-attempt timeouts, so that each hedge takes a slot, is counted, has
// its span and its own bounds. Hedges take their tokens from the stack's
// retry budget ([Stack.Budget]), so that retries and hedges together stay
// within its ratio; with a budget of your own given to retry, give it to
// hedge.WithBudget too. Over an *http.Transport base (the default), hedges
// go through a clone of it, made at the first hedge, so that they never
// ride the connection of the attempt they hedge, over HTTP/2 too. Given
// more than once, the lists are appended; the layer is on once WithHedge is
// given. It cannot change in Update.
func WithHedge(opts ...hedge.Option) Option {
	return func(c *config) {
		c.hedge = true
		c.hedgeOpts = append(slices.Clip(c.hedgeOpts), opts...)
	}
}

// WithLimit turns the limit layer on (off by default), with opts: a limit of
// requests in flight per host, adaptive unless limit.WithMaxInFlight fixes
// it. It sits below retry (and hedge), so that every attempt takes a slot
// and a shed attempt goes back to retry, which does not retry it; and above
// the breaker, so that the breaker counts only the calls really sent and
// its half-open probes are never shed for want of a slot. Given more than
// once, the lists are appended; the layer is on once WithLimit is given.
// It cannot change in Update.
func WithLimit(opts ...limit.Option) Option {
	return func(c *config) {
		c.limit = true
		c.limitOpts = append(slices.Clip(c.limitOpts), opts...)
	}
}

// WithTracing passes opts to tracing.RequestID and tracing.Spans (for example
// tracing.WithHeader, tracing.WithPropagators, tracing.WithFilter or
// tracing.WithLogicalSpan). They do not turn the spans layer on by
// themselves, and the providers and logger come from WithTracerProvider,
// WithMeterProvider and WithLogger. Given more than once, the lists are
// appended.
func WithTracing(opts ...tracing.Option) Option {
	return func(c *config) { c.tracingOpts = append(slices.Clip(c.tracingOpts), opts...) }
}

// WithTracerProvider turns the spans layer on, with one client span per
// attempt from tp, and adds retries to the request's span as events. Spans
// go to tp only, never to the global provider. Off by default. Given twice,
// the last wins.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider turns the spans layer on for the HTTP client duration
// metric, and records the layers' events (retries and give-ups, breaker
// transitions and rejections, timeouts by phase, the limit layer's limits
// and rejections) as chain.* metrics through an [Observer]. Metrics go to
// mp only, never to the global provider. Off by default. Given twice, the
// last wins.
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

// WithLayer puts mw in layer l's place in the stack, instead of the layer
// the stack would build there (or in an empty place: a layer that is off,
// such as LayerHedge); a nil mw removes the layer, as WithoutLayer does.
// The options for the replaced layer are then ignored, the Stack's
// accessor for it returns nil, and Config lists it as replaced. Given twice
// for the same layer, the last wins.
func WithLayer(l Layer, mw func(http.RoundTripper) http.RoundTripper) Option {
	if l < 0 || l >= numLayers {
		panic(fmt.Sprintf("standard: WithLayer(%v): no such layer", l))
	}
	return func(c *config) { c.slots[l] = slot{set: true, mw: mw} }
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
