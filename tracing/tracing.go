package tracing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
	"github.com/rtchain/chain/internal/redact"
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
)

// durationBuckets are the explicit bucket boundaries, in seconds, that the
// semantic conventions give for http.client.request.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// defaultPropagator is used while the global propagator is the no-op default.
var defaultPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// clientKind is the start option of every span, allocated once.
var clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// errNilResponse replaces the (nil, nil) that a faulty next RoundTripper may
// return.
var errNilResponse = errors.New("tracing: next RoundTripper returned a nil response and a nil error")

// Transport makes one OpenTelemetry CLIENT span, one
// http.client.request.duration measurement and one log record per attempt.
// Place it inside the retry layer (below it in chain.Build's list), so that
// each attempt is its own span. It is safe for concurrent use.
type Transport struct {
	layer.Next
	tracer       trace.Tracer
	duration     metric.Float64Histogram
	prop         propagation.TextMapPropagator // nil: global, or defaultPropagator
	logger       *slog.Logger                  // nil: silent
	redact       []string
	noSpans      bool
	endAtHeaders bool

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
// WithRedactHeaders, WithoutSpans and WithEndAtHeaders.
func New(next http.RoundTripper, opts ...Option) *Transport {
	c := newConfig(opts)
	t := &Transport{
		Next:         layer.Of(next),
		tracer:       c.tp.Tracer(instrumentationName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:         c.prop,
		logger:       c.logger,
		redact:       c.redact,
		noSpans:      c.noSpans,
		endAtHeaders: c.endAtHeaders,
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
// body reaches EOF, fails or is closed, or at once when there is no response.
// The request body is the next RoundTripper's to close. A (nil, nil) from next
// becomes an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := &attemptState{t: t, start: time.Now(), req: req, parent: req.Context(), resend: resendCount(req)}
	out := req
	if !t.noSpans {
		ctx, span := t.tracer.Start(a.parent, spanName(req.Method), clientKind...)
		a.span = span
		if span.IsRecording() {
			if s, ok := span.(interface{ StartTime() time.Time }); ok {
				a.start = s.StartTime() // the metric's start is the span's, exactly
			}
			span.SetAttributes(a.requestAttrs()...)
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: a.gotConn})
		}
		if span.IsRecording() || span.SpanContext().IsValid() {
			out = req.Clone(ctx)
			t.propagator().Inject(ctx, propagation.HeaderCarrier(out.Header))
			if out.Body != nil && out.Body != http.NoBody {
				a.body = &requestBody{ReadCloser: out.Body}
				out.Body = a.body
			}
		}
	}
	resp, err := t.RT().RoundTrip(out)
	if err == nil && resp == nil {
		err = errNilResponse
		if out.Body != nil {
			out.Body.Close() // a next layer this broken may not have closed it
		}
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close() // a response with an error breaks the contract; do not leak it
		}
		a.finish(err)
		return nil, err
	}
	a.status = resp.StatusCode
	a.protoMajor, a.protoMinor = resp.ProtoMajor, resp.ProtoMinor
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if t.endAtHeaders {
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

// attemptState is what one attempt needs until its end.
type attemptState struct {
	t          *Transport
	start      time.Time
	req        *http.Request   // the caller's request, read only
	parent     context.Context // the caller's context
	span       trace.Span      // nil with WithoutSpans
	body       *requestBody    // the request body wrapper, or nil
	stop       func() bool     // stops the context.AfterFunc, or nil
	endMu      sync.Mutex      // held while finish runs; guards ended
	ended      bool            // finish ran
	resend     int
	status     int
	protoMajor int
	protoMinor int
}

// bodyDone is the response body's end hook.
func (a *attemptState) bodyDone(err error) {
	if err == io.EOF {
		err = nil
	}
	if a.stop != nil {
		a.stop()
	}
	a.finish(err)
}

// contextDone ends the attempt when the request's context ends before the
// response body did. It does not touch a.stop, which RoundTrip may still be
// setting.
func (a *attemptState) contextDone() { a.finish(a.parent.Err()) }

// finish ends the attempt, once: err is the transport error, the response
// body's read error or the context's error, and nil when the exchange
// completed or the body was closed early. The span end and the duration
// measurement share one timestamp, and the span's start is the metric's.
//
// The body's end and the context's end may race (the context's hook runs on
// a goroutine of its own). The loser waits, under endMu, until the winner has
// ended the span and recorded the metric, so that when a caller's Read or
// Close returns, the attempt is over. Only those two paths take endMu.
func (a *attemptState) finish(err error) {
	a.endMu.Lock()
	defer a.endMu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	now := time.Now()
	t := a.t
	errType, failed := errorType(a.parent, a.status, err, a.body != nil && a.body.failed.Load())
	var phase errclass.Phase
	if errType == ErrorTimeout {
		phase = errclass.PhaseOf(err)
	}
	if a.span != nil {
		if a.span.IsRecording() {
			attrs := make([]attribute.KeyValue, 0, 4)
			if a.status > 0 {
				attrs = append(attrs, semconv.HTTPResponseStatusCode(a.status))
			}
			if v := protoVersion(a.protoMajor, a.protoMinor); v != "" {
				attrs = append(attrs, semconv.NetworkProtocolVersion(v))
			}
			if failed {
				attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
			}
			if phase != errclass.PhaseNone {
				attrs = append(attrs, TimeoutPhaseKey.String(string(phase)))
			}
			a.span.SetAttributes(attrs...)
			if failed {
				desc := ""
				if err != nil {
					desc = scrub(err.Error(), a.req, t.redact)
				}
				a.span.SetStatus(codes.Error, desc)
			}
			a.span.End(trace.WithTimestamp(now))
		} else {
			a.span.End() // nothing to time: spare the option's allocation
		}
		if t.duration.Enabled(a.parent) {
			t.duration.Record(a.parent, now.Sub(a.start).Seconds(), metric.WithAttributes(a.metricAttrs(errType)...))
		}
	}
	if t.logger != nil {
		a.log(now, err, errType, failed)
	}
}

// log writes the attempt's record.
func (a *attemptState) log(now time.Time, err error, errType string, failed bool) {
	ctx := a.parent
	level := slog.LevelInfo
	if failed {
		level = slog.LevelWarn
		if attempt.Last(ctx) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			level = slog.LevelError // no attempt can follow: retry's last, or the deadline has passed
		}
	}
	if !a.t.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("method", a.req.Method),
		slog.String("url", redact.URL(a.req.URL)),
		slog.Int("status", a.status),
		slog.Duration("duration", now.Sub(a.start)),
		slog.Int("attempt", attempt.From(ctx)),
	)
	if a.resend > 0 {
		attrs = append(attrs, slog.Int("resend_count", a.resend))
	}
	if failed {
		attrs = append(attrs, slog.String("error_type", errType))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error_class", errclass.Classify(err).String()),
			slog.String("error", scrub(err.Error(), a.req, a.t.redact)))
	}
	if id := RequestIDFrom(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	sc := trace.SpanContextFromContext(ctx)
	if a.span != nil {
		sc = a.span.SpanContext()
	}
	if sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	a.t.logger.LogAttrs(ctx, level, "http attempt", attrs...)
}

// requestAttrs returns the span attributes known before sending.
func (a *attemptState) requestAttrs() []attribute.KeyValue {
	req := a.req
	attrs := make([]attribute.KeyValue, 0, 7)
	m := knownMethod(req.Method)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	if m != req.Method {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(req.Method))
	}
	if req.URL != nil {
		attrs = appendServer(attrs, req.URL)
		attrs = append(attrs, semconv.URLFull(redact.URL(req.URL)))
	}
	if a.resend > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(a.resend))
	}
	if id := RequestIDFrom(a.parent); id != "" {
		attrs = append(attrs, RequestIDKey.String(id))
	}
	return attrs
}

// metricAttrs returns the attributes of the duration measurement: only
// bounded values (the method is normalised, no path, no full URL).
func (a *attemptState) metricAttrs(errType string) []attribute.KeyValue {
	req := a.req
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(knownMethod(req.Method)))
	if req.URL != nil {
		attrs = appendServer(attrs, req.URL)
	}
	if a.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.status))
	}
	if v := protoVersion(a.protoMajor, a.protoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolName("http"), semconv.NetworkProtocolVersion(v))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	return attrs
}

// appendServer appends server.address and server.port for u.
func appendServer(attrs []attribute.KeyValue, u *url.URL) []attribute.KeyValue {
	attrs = append(attrs, semconv.ServerAddress(u.Hostname()))
	if p := serverPort(u.Scheme, u.Port()); p > 0 {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// gotConn records the peer's address on the span.
func (a *attemptState) gotConn(info httptrace.GotConnInfo) {
	if info.Conn == nil {
		return
	}
	host, port, err := net.SplitHostPort(info.Conn.RemoteAddr().String())
	if err != nil {
		return
	}
	attrs := []attribute.KeyValue{semconv.NetworkPeerAddress(host)}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.NetworkPeerPort(p))
	}
	a.span.SetAttributes(attrs...)
}

// requestBody notes whether reading the request body failed, so that the
// attempt's error.type can say request_body_error.
type requestBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// resendCount returns the attempt number on req's context plus the number of
// redirect hops that led to req.
func resendCount(req *http.Request) int {
	n := attempt.From(req.Context())
	for r, hops := req.Response, 0; r != nil && hops < 100; hops++ {
		n++
		if r.Request == nil {
			break
		}
		r = r.Request.Response
	}
	return n
}
