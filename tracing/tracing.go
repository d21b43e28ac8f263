package tracing

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
)

// instrumentationName names the tracer and the meter of this package.
const instrumentationName = "github.com/rtchain/chain/tracing"

// Attribute keys of this library, outside the semantic conventions.
const (
	// TimeoutPhaseKey holds the phase of a timeout (errclass.Phase) on a span
	// whose error.type is "timeout". It is kept off the duration metric.
	TimeoutPhaseKey = attribute.Key("chain.timeout.phase")
	// RequestIDKey holds the request id of [RequestID] on each attempt span.
	RequestIDKey = attribute.Key("chain.request.id")
	// HedgeKey is true on the span of an attempt that the hedge layer sent
	// as an extra copy of one still in flight.
	HedgeKey = attribute.Key("chain.hedge")
)

// durationBuckets are the explicit bucket boundaries, in seconds, that the
// semantic conventions give for http.client.request.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// defaultPropagator is used while the global propagator is the no-op default.
var defaultPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// clientKind is the start option of every span, allocated once.
var clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// Transport makes one OpenTelemetry CLIENT span, one
// http.client.request.duration measurement and one log record per attempt.
// Place it inside the retry layer (below it in chain.Build's list), so that
// each attempt is its own span. It is safe for concurrent use.
type Transport struct {
	layer.Next
	tracer       trace.Tracer
	duration     metric.Float64Histogram
	series       *seriesLimit
	prop         propagation.TextMapPropagator // nil: global, or defaultPropagator
	logger       *slog.Logger                  // nil: silent
	redact       []string
	filters      []func(*http.Request) bool
	propagate    []func(*http.Request) bool
	metricAttrs  []func(*http.Request) []attribute.KeyValue
	spanName     func(*http.Request) string
	noSpans      bool
	endAtHeaders bool
	phaseEvents  bool

	globalSet atomic.Bool // the global propagator was seen set: trust it from now on
	warned    atomic.Bool // the no-op global propagator warning was logged
}

var _ http.RoundTripper = (*Transport)(nil)

// Spans returns a middleware that wraps its next RoundTripper with [New]. It is
// assignable to chain.Middleware.
func Spans(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return New(next, opts...) }
}

// New returns a Transport that instruments each request sent through next (a
// nil next means [http.DefaultTransport]). See the package documentation for
// the span, metric and log record it makes. The options that concern it are
// WithTracerProvider, WithMeterProvider, WithPropagators, WithLogger,
// WithRedactHeaders, WithoutSpans, WithEndAtHeaders, WithMaxSeries,
// WithFilter, WithSpanNameFormatter, WithMetricAttributes,
// WithPropagationFilter and WithPhaseEvents.
func New(next http.RoundTripper, opts ...Option) *Transport {
	c := newConfig(opts)
	t := &Transport{
		Next:         layer.Of(next),
		tracer:       c.tp.Tracer(instrumentationName, trace.WithSchemaURL(semconv.SchemaURL)),
		series:       newSeriesLimit(c.maxSeries),
		prop:         c.prop,
		logger:       c.logger,
		redact:       c.redact,
		filters:      c.filters,
		propagate:    c.propagate,
		metricAttrs:  c.metricAttrs,
		spanName:     c.spanName,
		noSpans:      c.noSpans,
		endAtHeaders: c.endAtHeaders,
		phaseEvents:  c.phaseEvents,
	}
	meter := c.mp.Meter(instrumentationName, metric.WithSchemaURL(semconv.SchemaURL))
	h, err := meter.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otel.Handle(err) // h is still usable: the API returns a no-op instrument
	}
	t.duration = h
	return t
}

// RoundTrip sends req through the next RoundTripper, with the trace context
// injected into a clone of it, and ends the attempt's span when the response
// body reaches EOF, fails or is closed, or at once when there is no response
// body to wait for (http.NoBody: HEAD, 204, 304, Content-Length 0) or the
// response is a 101 Switching Protocols. The request body is the next
// RoundTripper's to close. A (nil, nil) from next becomes an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, f := range t.filters {
		if !f(req) {
			return send(t.RT(), req)
		}
	}
	a := &attemptState{t: t, start: time.Now(), req: req, parent: req.Context(), resend: resendCount(req)}
	out := req
	if !t.noSpans {
		out = a.startSpan()
	}
	resp, err := send(t.RT(), out)
	if err != nil {
		a.finish(err)
		return nil, err
	}
	a.status = resp.StatusCode
	a.protoMajor, a.protoMinor = resp.ProtoMajor, resp.ProtoMinor
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if t.endAtHeaders || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		// Nothing to wait for: no body, or a connection handed over.
		a.finish(nil)
		return resp, nil
	}
	resp.Body = body.Wrap(resp.Body, a.bodyDone)
	if a.parent.Done() != nil {
		// The bound on a span whose body is never closed: the end of the
		// request's context, when the transport abandons the body anyway.
		a.stop = context.AfterFunc(a.parent, a.contextDone)
	}
	return resp, nil
}

// startSpan starts the attempt's span and returns the request to send: req
// itself when there is nothing to add, else a copy carrying the span's
// context, the propagated trace context and the request body wrapper.
func (a *attemptState) startSpan() *http.Request {
	t, req := a.t, a.req
	ctx, span := t.tracer.Start(a.parent, t.name(req), clientKind...)
	a.span = span
	recording := span.IsRecording()
	if recording {
		if s, ok := span.(interface{ StartTime() time.Time }); ok {
			a.start = s.StartTime() // the metric's start is the span's, exactly
		}
		span.SetAttributes(a.requestAttrs()...)
		ctx = httptrace.WithClientTrace(ctx, a.clientTrace())
	}
	inject := (recording || span.SpanContext().IsValid()) && t.propagates(req)
	var out *http.Request
	switch {
	case inject:
		out = req.Clone(ctx)
		t.propagator().Inject(ctx, propagation.HeaderCarrier(out.Header))
	case recording:
		out = req.WithContext(ctx)
	default:
		return req
	}
	if out.Body != nil && out.Body != http.NoBody {
		a.body = &requestBody{ReadCloser: out.Body}
		out.Body = a.body
	}
	return out
}

// name returns the span name of req.
func (t *Transport) name(req *http.Request) string {
	if t.spanName != nil {
		if n := t.spanName(req); n != "" {
			return n
		}
	}
	return spanName(req.Method)
}

// propagates reports whether every propagation filter lets req carry the
// trace context.
func (t *Transport) propagates(req *http.Request) bool {
	for _, f := range t.propagate {
		if !f(req) {
			return false
		}
	}
	return true
}

// send passes req to rt and keeps the RoundTripper contract for a broken rt
// (see layer.Checked).
func send(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	return layer.Checked("tracing", rt, req, resp, err)
}

// propagator returns the propagator to inject with.
func (t *Transport) propagator() propagation.TextMapPropagator {
	if t.prop != nil {
		return t.prop
	}
	g := otel.GetTextMapPropagator()
	if t.globalSet.Load() {
		return g
	}
	if len(g.Fields()) > 0 {
		t.globalSet.Store(true)
		return g
	}
	if t.logger != nil && t.warned.CompareAndSwap(false, true) {
		t.logger.Warn("tracing: the global OpenTelemetry propagator is the no-op default; injecting W3C TraceContext and Baggage")
	}
	return defaultPropagator
}
