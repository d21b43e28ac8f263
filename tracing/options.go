package tracing

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultHeader is the header RequestID sets when [WithHeader] is not given.
const DefaultHeader = "X-Request-ID"

// Option configures [RequestID] and [Spans]. One Option type serves both;
// each option's documentation says which of the two it concerns, and the
// other ignores it (for example [WithHeader] concerns RequestID only).
// Options are applied in order: when a setting is given twice, the last one
// wins; options that add something ([WithRedactHeaders], [WithFilter],
// [WithPropagationFilter], [WithMetricAttributes]) add up.
type Option func(*config)

// config holds every setting, resolved once at construction.
type config struct {
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	prop         propagation.TextMapPropagator // nil: the global one, or W3C when it is the no-op
	logger       *slog.Logger                  // nil: silent
	header       string
	newID        func() string // nil: the default, newID
	redact       []string
	noSpans      bool
	endAtHeaders bool
	logicalSpan  bool
	phaseEvents  bool
	maxSeries    int
	okLevel      slog.Level // summary of a request that succeeded at once
	retriedLevel slog.Level // summary of a request that succeeded after retries
	filters      []func(*http.Request) bool
	propagate    []func(*http.Request) bool
	metricAttrs  []func(*http.Request) []attribute.KeyValue
	spanName     func(*http.Request) string
}

func newConfig(opts []Option) config {
	c := config{
		header:       http.CanonicalHeaderKey(DefaultHeader), // canonical: Get and Set then allocate nothing
		maxSeries:    DefaultMaxSeries,
		okLevel:      slog.LevelDebug,
		retriedLevel: slog.LevelInfo,
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

// WithTracerProvider sets the provider of the tracer that makes the spans:
// the attempt spans of Spans and the logical span of RequestID. The default (also for a nil tp) is the global provider, otel.GetTracerProvider,
// looked up at construction; the global provider forwards to one set later
// with otel.SetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that records
// http.client.request.duration (Spans only). The default (also for a nil mp)
// is the global provider, otel.GetMeterProvider, looked up at construction.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagators (Spans only) sets the propagator that Spans uses to inject the trace
// context into each attempt's request. The default (also for a nil p) is the
// global propagator, otel.GetTextMapPropagator, read at each attempt; while the
// global propagator is still the no-op default (it was never set), Spans uses
// W3C TraceContext and Baggage instead, since otherwise no traceparent would
// be sent at all, and logs a warning once (when a logger is set).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithLogger sets the logger that receives one record per attempt (Spans),
// one summary record per logical request (RequestID) and the one-time
// warnings of this package. The package documentation describes the records
// and their levels. The default (also for a nil l) is no logging at all: the
// package is silent unless given a logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHeader sets the name of the header RequestID reads and sets (RequestID
// only). The default
// is [DefaultHeader], X-Request-ID. The name is canonicalised; an empty name or
// one that is not a valid header name panics.
func WithHeader(name string) Option {
	if !validHeaderName(name) {
		panic(fmt.Sprintf("tracing: WithHeader(%q): not a valid header name", name))
	}
	return func(c *config) { c.header = http.CanonicalHeaderKey(name) }
}

// WithIDGenerator sets the function RequestID calls to make a new request id
// when the request carries none (RequestID only). The default makes 32 lower-case hex digits
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
// always secret (RequestID and Spans). No header value is recorded; the
// names matter for error texts, from which the values of these headers are
// removed before they reach a span status or a log record. Given twice, the
// names add up.
func WithRedactHeaders(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			c.redact = append(c.redact, http.CanonicalHeaderKey(n))
		}
	}
}

// WithoutSpans (Spans only) turns off what otelhttp already does, for callers who wrap each
// attempt with otelhttp.NewTransport themselves: Spans then starts no
// span, injects no header and records no http.client.request.duration, and
// only writes its log record (whose trace id is then the one of the span on
// the request's context). Place otelhttp inside the retry layer, as Spans, to
// get a span per attempt. The default is to make spans. It is also the way to
// have the per-attempt log record alone, with no span and no metric.
func WithoutSpans() Option {
	return func(c *config) { c.noSpans = true }
}

// WithEndAtHeaders (Spans only) makes Spans end each span, record its duration and write
// its log record when RoundTrip returns (the response headers arrived), as
// otelhttp times its metric, instead of when the response body reaches EOF,
// fails or is closed (the default). The response body is then returned
// unwrapped, and errors while reading it are not seen by this package. Use it
// for long streams whose spans should not last as long as the stream.
func WithEndAtHeaders() Option {
	return func(c *config) { c.endAtHeaders = true }
}

// WithLogicalSpan (RequestID only) makes RequestID start one INTERNAL span per
// logical request,
// named [LogicalSpanName] ("chain.request") and carrying chain.request.id, so
// that the attempt spans of Spans are siblings under it even when the caller
// has no span, and so that span events about the whole request (the
// standard package's "retry" events) go to it. It ends when the final response body
// reaches EOF, fails or is closed, when the request's context ends, or at once
// on an error; its status is Error, with error.type, when the final outcome
// failed. It has no HTTP attribute, so it is never counted as an HTTP client
// span. The default is no logical span: the caller's own span is the parent.
func WithLogicalSpan() Option {
	return func(c *config) { c.logicalSpan = true }
}

// DefaultMaxSeries is the default bound of [WithMaxSeries].
const DefaultMaxSeries = 1000

// WithMaxSeries bounds the number of distinct attribute sets (series) for
// which Spans records http.client.request.duration, so that a client that
// follows URLs from outside (webhooks, link previews, crawlers) cannot blow
// up the number of series: server.address and server.port come from the
// network, and so may a status code. The hosts seen first keep series of
// their own, also for the statuses, methods and errors they get later; past
// nine tenths of the bound, a new host is recorded with server.address
// "_OTHER" and no server.port (the rest of its attributes kept), and past
// the bound every attribute is "_OTHER". The default is [DefaultMaxSeries]
// (1000); n below 1 panics. Given twice, the last wins.
func WithMaxSeries(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("tracing: WithMaxSeries(%d): need at least 1", n))
	}
	return func(c *config) { c.maxSeries = n }
}

// WithFilter (Spans only) adds a filter that decides, per attempt, whether
// Spans instruments it: when a filter returns false, the attempt goes to the
// next RoundTripper untouched, with no span, no metric, no propagated header
// and no log record (health checks, metric scrapes). Given several times, the
// filters add up: an attempt is instrumented only when every filter returns
// true. The default instruments every attempt. f must be safe for
// concurrent use; a nil f panics.
func WithFilter(f func(*http.Request) bool) Option {
	if f == nil {
		panic("tracing: WithFilter(nil): need a function")
	}
	return func(c *config) { c.filters = append(c.filters, f) }
}

// WithSpanNameFormatter (Spans only) sets the function that names each
// attempt span; an empty name from it means the default, the method ("GET",
// or "HTTP" for an unknown method). The semantic conventions allow
// "{method} {url.template}", for instance "GET /users/{id}", where the
// template is the caller's knowledge of the route, never the raw path (a
// span name must have a low cardinality). Given twice, the last wins; a nil f
// means the default. f must be safe for concurrent use.
func WithSpanNameFormatter(f func(*http.Request) string) Option {
	return func(c *config) { c.spanName = f }
}

// WithMetricAttributes (Spans only) adds a function whose attributes are
// recorded with each http.client.request.duration measurement, after the
// conventions' own. It is opt-in, and bounded: the attribute sets count
// against [WithMaxSeries] like the others. Given several times, the
// functions add up, their attributes in order. f must be safe for concurrent
// use and should return values from a small fixed set; a nil f panics.
func WithMetricAttributes(f func(*http.Request) []attribute.KeyValue) Option {
	if f == nil {
		panic("tracing: WithMetricAttributes(nil): need a function")
	}
	return func(c *config) { c.metricAttrs = append(c.metricAttrs, f) }
}

// WithPropagationFilter (Spans only) adds a filter that decides, per attempt,
// whether the trace context (traceparent, tracestate, baggage) is injected
// into the request: a third-party host need not learn the caller's trace ids
// and baggage. The span is made either way. Given several times, the filters
// add up: the context is injected only when every filter returns true. The
// default injects into every request. f must be safe for concurrent use; a
// nil f panics. For example, to propagate only to your own domain:
//
//	tracing.WithPropagationFilter(func(r *http.Request) bool {
//		return strings.HasSuffix(r.URL.Hostname(), ".internal.example")
//	})
func WithPropagationFilter(f func(*http.Request) bool) Option {
	if f == nil {
		panic("tracing: WithPropagationFilter(nil): need a function")
	}
	return func(c *config) { c.propagate = append(c.propagate, f) }
}

// WithPhaseEvents (Spans only) adds the phases of each attempt, as net/http
// reports them through net/http/httptrace, to its span as events: "dns.start"
// and "dns.done", "connect.start" and "connect.done" (each with
// network.peer.address; several when several addresses are tried), "tls.start"
// and "tls.done", "got_conn" (with chain.conn.reused), and "first_byte" when
// the first byte of the response arrives. A done event whose phase failed
// carries error.type. Off by default: each event costs an allocation or more.
func WithPhaseEvents() Option {
	return func(c *config) { c.phaseEvents = true }
}

// WithSummaryLevels (RequestID only) sets the levels of the summary record
// of a logical request that succeeded: ok when it took one attempt (default
// Debug), retried when it took more (default Info). The levels of failures
// are fixed (see the package documentation). Given twice, the last wins.
func WithSummaryLevels(ok, retried slog.Level) Option {
	return func(c *config) { c.okLevel, c.retriedLevel = ok, retried }
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
