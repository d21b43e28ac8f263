package tracing

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/internal/layer"
	"github.com/rtchain/chain/internal/record"
)

// LogicalSpanName is the name of the INTERNAL span that RequestID makes with
// [WithLogicalSpan].
const LogicalSpanName = "chain.request"

// RequestIDTransport sets a request id header once per logical request and
// records the request as a whole: the layers below (retry) count its
// attempts and say why they gave up, and with a logger it writes one summary
// record when the request ends. Place it outermost, outside the retry layer,
// so that every attempt of one request carries the same id. It is safe for
// concurrent use.
type RequestIDTransport struct {
	layer.Next
	header       string
	newID        func() string // nil: the default, random hex into the request's own buffer
	tracer       trace.Tracer  // nil: no logical span
	logger       *slog.Logger  // nil: no summary
	redact       []string
	okLevel      slog.Level
	retriedLevel slog.Level
}

var _ http.RoundTripper = (*RequestIDTransport)(nil)

// RequestID returns a middleware that wraps its next RoundTripper with
// [NewRequestID]. It is assignable to chain.Middleware.
func RequestID(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return NewRequestID(next, opts...) }
}

// NewRequestID returns a RoundTripper that makes sure each request carries a
// request id in the header named by [WithHeader] (X-Request-ID by default) and
// on its context, where [RequestIDFrom] finds it for inner layers and logs.
//
// The id is, in order of preference: the header's value when the caller set
// one, under any spelling of its name (the header is kept as it is, every
// value of it); the id on the request's context (an outer RequestID already
// chose one); a new one from the generator of [WithIDGenerator]. A caller's
// header whose first value is empty, or with a value that is not a valid
// header value (a control character, which net/http refuses to send), is
// not an id: it is replaced, every spelling and value of it, by the one
// chosen next. The caller's request is never modified: the id is set on a
// copy. A nil next means [http.DefaultTransport].
//
// As the outermost layer of a logical request (no RequestID above it), it
// also starts the record of the request that the retry layer fills in
// (attempts, the reason it gave up), makes one INTERNAL span per request
// with [WithLogicalSpan], and with [WithLogger] writes one summary record
// per request (see the package documentation). The options that concern it
// are WithHeader, WithIDGenerator, WithLogicalSpan, WithTracerProvider (for
// the logical span), WithLogger, WithRedactHeaders and WithSummaryLevels.
func NewRequestID(next http.RoundTripper, opts ...Option) *RequestIDTransport {
	c := newConfig(opts)
	t := &RequestIDTransport{Next: layer.Of(next), header: c.header, newID: c.newID,
		logger: c.logger, redact: c.redact, okLevel: c.okLevel, retriedLevel: c.retriedLevel}
	if c.logicalSpan {
		t.tracer = c.tp.Tracer(instrumentationName, trace.WithSchemaURL(semconv.SchemaURL))
	}
	return t
}

// RoundTrip sends a copy of req that carries the request id, through the
// next RoundTripper. The copy shares everything with req but its context and
// its header map, the two things it changes. The request body is the next
// RoundTripper's to close. A (nil, nil) from next becomes an error.
func (t *RequestIDTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hdr, key := callerID(req.Header, t.header)
	if fromCtx := RequestIDFrom(req.Context()); fromCtx != "" {
		// An outer RequestID runs this logical request and records it.
		if hdr != "" {
			return send(t.RT(), req)
		}
		out := req.WithContext(req.Context())
		out.Header = withValue(req.Header, t.header, key, []string{fromCtx})
		return send(t.RT(), out)
	}
	l := &logical{Context: req.Context(), t: t, orig: req, id: hdr}
	if l.id == "" {
		l.id = l.makeID()
	}
	if t.logger != nil || t.tracer != nil {
		l.start = time.Now()
	}
	var ctx context.Context = l
	if t.tracer != nil {
		ctx, l.span = t.tracer.Start(ctx, LogicalSpanName, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(RequestIDKey.String(l.id)))
	}
	// The copy lives in l: WithContext's own copy does not escape, so the
	// request, its context and its record cost one allocation together.
	l.req = *req.WithContext(ctx)
	if hdr == "" {
		l.value[0] = l.id
		l.req.Header = withValue(req.Header, t.header, key, l.value[:])
	}
	resp, err := send(t.RT(), &l.req)
	if l.span == nil && t.logger == nil {
		return resp, err // nothing to end
	}
	return l.await(resp, err), err
}

// callerID returns the request id that the caller set in h under name
// (canonical) or another spelling of it, and the key it is under; the id is
// "" when the values there are none, the first is empty, or one is not a
// valid header value.
func callerID(h http.Header, name string) (id, key string) {
	vs, key := h[name], name
	if vs == nil {
		for k, v := range h { // set directly, as in Header["X-Request-ID"]
			if strings.EqualFold(k, name) {
				vs, key = v, k
				break
			}
		}
	}
	if len(vs) == 0 || slices.ContainsFunc(vs, invalidValue) {
		return "", key
	}
	return vs[0], key
}

// invalidValue reports whether net/http refuses to send v as a header value:
// it holds a control character other than tab.
func invalidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return true
		}
	}
	return false
}

// withValue returns a copy of h with name set to v and the key old (another
// spelling of name) dropped. The copy shares the other values' slices with
// h, capped so that an append cannot write into h's arrays; layers below
// never change the values of a request they were given, by the
// RoundTripper contract.
func withValue(h http.Header, name, old string, v []string) http.Header {
	out := make(http.Header, len(h)+1)
	for k, vs := range h {
		out[k] = vs[:len(vs):len(vs)]
	}
	delete(out, old)
	out[name] = v
	return out
}

// makeID returns a new request id: the generator's, or the default made in
// l's own buffer.
func (l *logical) makeID() string {
	if l.t.newID != nil {
		return l.t.newID()
	}
	const digits = "0123456789abcdef"
	for i, v := range [2]uint64{rand.Uint64(), rand.Uint64()} {
		for j := 15; j >= 0; j-- {
			l.idBuf[i*16+j] = digits[v&15]
			v >>= 4
		}
	}
	// The string shares idBuf, which is never written again: a string of
	// its own would be one more allocation per request.
	return unsafe.String(&l.idBuf[0], len(l.idBuf))
}

// logical is one logical request as RequestID sees it: the context the
// layers below get (carrying the id and the record), the copy of the
// request they are sent, and what the end of the request needs. One
// allocation holds it all.
type logical struct {
	context.Context // the caller's
	t               *RequestIDTransport
	orig            *http.Request // the caller's request, read only
	req             http.Request  // the copy sent down
	id              string
	value           [1]string // the backing array of the header value
	idBuf           [32]byte  // the default id's digits
	rec             record.Record

	// The end of the request, with a logical span or a summary.
	end   ending
	start time.Time
	span  trace.Span // nil without WithLogicalSpan
}

// Value returns the id for requestIDKey, the record for record's key and
// whether a summary will be written for summaryKey, and asks the parent
// otherwise. Pointers and bools are returned so that asking allocates
// nothing.
func (l *logical) Value(key any) any {
	switch key.(type) {
	case requestIDKey:
		return &l.id
	case summaryKey:
		return l.t.logger != nil
	}
	if record.IsKey(key) {
		return &l.rec
	}
	return l.Context.Value(key)
}

// String names the context in panics and debug output, as the context
// package's own types do.
func (l *logical) String() string { return "tracing.requestID" }

type (
	requestIDKey struct{}
	summaryKey   struct{}
)

// RequestIDFrom returns the request id that [RequestIDTransport] put on ctx,
// or "" when there is none.
func RequestIDFrom(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(*string); ok {
		return *id
	}
	return ""
}

// summarised reports whether a RequestID above writes a summary record of
// the logical request that ctx belongs to.
func summarised(ctx context.Context) bool {
	s, _ := ctx.Value(summaryKey{}).(bool)
	return s
}
