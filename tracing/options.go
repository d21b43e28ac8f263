package tracing

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultHeader is the header RequestID sets when [WithHeader] is not given.
const DefaultHeader = "X-Request-ID"

// Option configures [RequestID], [Spans] and [NewObserver]. One Option type
// serves all three; an option that does not concern a constructor is ignored
// by it (for example [WithHeader] by Spans). Options are applied in order: when
// the same option is given twice, the last one wins, except [WithRedactHeaders],
// whose names add up.
type Option func(*config)

// config holds every setting, resolved once at construction.
type config struct {
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	prop         propagation.TextMapPropagator // nil: the global one, or W3C when it is the no-op
	logger       *slog.Logger                  // nil: silent
	header       string
	newID        func() string
	redact       []string
	noSpans      bool
	endAtHeaders bool
	logicalSpan  bool
	maxKeys      int
}

func newConfig(opts []Option) config {
	c := config{
		header:  http.CanonicalHeaderKey(DefaultHeader), // canonical: Get and Set then allocate nothing
		newID:   newID,
		maxKeys: defaultMaxKeys,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return c
}

// WithTracerProvider sets the provider of the tracer that makes the spans.
// The default (also for a nil tp) is the global provider, otel.GetTracerProvider,
// looked up at construction; the global provider forwards to one set later
// with otel.SetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that records
// http.client.request.duration (Spans) and the chain.* resilience metrics
// ([Observer]). The default (also for a nil mp) is the global provider,
// otel.GetMeterProvider, looked up at construction.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagators sets the propagator that Spans uses to inject the trace
// context into each attempt's request. The default (also for a nil p) is the
// global propagator, otel.GetTextMapPropagator, read at each attempt; while the
// global propagator is still the no-op default (it was never set), Spans uses
// W3C TraceContext and Baggage instead, since otherwise no traceparent would
// be sent at all, and logs a warning once (when a logger is set).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithLogger sets the logger that receives one record per attempt (Spans) and
// the one-time warnings of this package. The default (also for a nil l) is no
// logging at all: the package is silent unless given a logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHeader sets the name of the header RequestID reads and sets. The default
// is [DefaultHeader], X-Request-ID. The name is canonicalised; an empty name or
// one that is not a valid header name panics.
func WithHeader(name string) Option {
	if !validHeaderName(name) {
		panic(fmt.Sprintf("tracing: WithHeader(%q): not a valid header name", name))
	}
	return func(c *config) { c.header = http.CanonicalHeaderKey(name) }
}

// WithIDGenerator sets the function RequestID calls to make a new request id
// when the request carries none. The default makes 32 lower-case hex digits
// (128 bits) from math/rand/v2, which costs no system call: a request id
// correlates logs, it is not a secret. Pass crypto/rand.Text for ids that
// must not be guessable. f must be safe for concurrent use and must return a
// valid header value; a nil f panics.
func WithIDGenerator(f func() string) Option {
	if f == nil {
		panic("tracing: WithIDGenerator(nil): need a function")
	}
	return func(c *config) { c.newID = f }
}

// WithRedactHeaders names more headers whose values are secret, in addition
// to Authorization, Proxy-Authorization, Cookie and Set-Cookie, which are
// always secret. Spans records no header values; the names matter for error
// texts, from which the values of these headers are removed before they
// reach a span status or a log record. Given twice, the names add up.
func WithRedactHeaders(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			c.redact = append(c.redact, http.CanonicalHeaderKey(n))
		}
	}
}

// WithoutSpans turns off what otelhttp already does, for callers who wrap each
// attempt with otelhttp.NewTransport themselves (O-10): Spans then starts no
// span, injects no header and records no http.client.request.duration, and
// only writes its log record (whose trace id is then the one of the span on
// the request's context). Place otelhttp inside the retry layer, as Spans, to
// get a span per attempt. The default is to make spans.
func WithoutSpans() Option {
	return func(c *config) { c.noSpans = true }
}

// WithEndAtHeaders makes Spans end each span, record its duration and write
// its log record when RoundTrip returns (the response headers arrived), as
// otelhttp times its metric, instead of when the response body reaches EOF,
// fails or is closed (the default). The response body is then returned
// unwrapped, and errors while reading it are not seen by this package. Use it
// for long streams whose spans should not last as long as the stream.
func WithEndAtHeaders() Option {
	return func(c *config) { c.endAtHeaders = true }
}

// WithLogicalSpan makes RequestID start one INTERNAL span per logical request,
// named [LogicalSpanName] ("chain.request") and carrying chain.request.id, so
// that the attempt spans of Spans are siblings under it even when the caller
// has no span, and so that an [Observer] adds its "retry" events to it (retry
// passes the context RequestID made). It ends when the final response body
// reaches EOF, fails or is closed, when the request's context ends, or at once
// on an error; its status is Error, with error.type, when the final outcome
// failed. It has no HTTP attribute, so it is never counted as an HTTP client
// span. The default is no logical span: the caller's own span is the parent.
func WithLogicalSpan() Option {
	return func(c *config) { c.logicalSpan = true }
}

// WithMaxKeys bounds the number of distinct values an [Observer] records for
// an attribute whose values come from outside the program: breaker keys (hosts)
// and retry reasons. Past the bound, new values are recorded as "_OTHER", so a
// client that talks to many hosts cannot blow up the number of series. The
// default is 64; n below 1 panics.
func WithMaxKeys(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("tracing: WithMaxKeys(%d): need at least 1", n))
	}
	return func(c *config) { c.maxKeys = n }
}

// validHeaderName reports whether name is a non-empty HTTP token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}
