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
// makes one INTERNAL span per request with [WithLogicalSpan], and with
// [WithLogger] starts the record of the request that the retry layer fills
// in (attempts, the reason it gave up) and writes one summary record per
// request (see the package documentation). Without either, a request costs
// three allocations (the copy of the request, which also holds its context
// and the id, and the copied header map's two), or one when the caller set
// the id. The options that concern it
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
	if t.logger == nil && t.tracer == nil {
		// Nothing to end: the context only carries the id.
		c := &idContext{Context: req.Context()}
		c.setID(hdr, t.newID)
		return send(t.RT(), c.prepare(req, c, t.header, key, hdr))
	}
	l := &logical{t: t, orig: req}
	l.Context = req.Context()
	l.setID(hdr, t.newID)
	l.start = time.Now()
	var ctx context.Context = l
	if t.tracer != nil {
		ctx, l.span = t.tracer.Start(ctx, LogicalSpanName, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(RequestIDKey.String(l.id)))
	}
	resp, err := send(t.RT(), l.prepare(req, ctx, t.header, key, hdr))
	return l.await(resp, err), err
}

// prepare returns the request to send down: a copy of req, held in c, with
// ctx as its context and, unless the caller set it (hdr), the id in the
// header (in place of the caller's unusable one under key). The copy shares
// everything else with req.
func (c *idContext) prepare(req *http.Request, ctx context.Context, header, key, hdr string) *http.Request {
	// WithContext's own copy does not escape: the request, its context and
	// the id cost one allocation together.
	c.req = *req.WithContext(ctx)
	if hdr == "" {
		c.value[0] = c.id
		c.req.Header = withValue(req.Header, header, key, c.value[:])
	}
	return &c.req
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

// setID sets the id: hdr, the caller's, when it is not empty, else a new
// one from newID or, when newID is nil, the default made in c's own buffer.
func (c *idContext) setID(hdr string, newID func() string) {
	switch {
	case hdr != "":
		c.id = hdr
	case newID != nil:
		c.id = newID()
	default:
		hexInto((*[16]byte)(c.idBuf[:16]), rand.Uint64())
		hexInto((*[16]byte)(c.idBuf[16:]), rand.Uint64())
		// The string shares idBuf, which is never written again: a string
		// of its own would be one more allocation per request.
		c.id = unsafe.String(&c.idBuf[0], len(c.idBuf))
	}
}

// hexInto writes v as 16 lower-case hex digits, a byte (two digits) at a
// time: half the steps of a digit at a time.
func hexInto(dst *[16]byte, v uint64) {
	for k := 7; k >= 0; k-- {
		p := hexPairs[byte(v)]
		dst[2*k], dst[2*k+1] = p[0], p[1]
		v >>= 8
	}
}

// hexPairs are the two hex digits of each byte value.
var hexPairs = func() (t [256][2]byte) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = [2]byte{digits[i>>4], digits[i&15]}
	}
	return t
}()

// idContext is the context the layers below get when nothing is to be done
// at the end of the request (no logger, no logical span): it carries the id,
// and holds the copy of the request they are sent. One allocation holds it
// all.
type idContext struct {
	context.Context              // the caller's
	req             http.Request // the copy sent down
	id              string
	value           [1]string // the backing array of the header value
	idBuf           [32]byte  // the default id's digits
}

// Value returns the id for requestIDKey and false for summaryKey (no
// summary will be written), and asks the parent otherwise. A pointer is
// returned so that asking allocates nothing.
func (c *idContext) Value(key any) any {
	switch key.(type) {
	case requestIDKey:
		return &c.id
	case summaryKey:
		return false
	}
	return c.Context.Value(key)
}

// logical is one logical request with a logger or a logical span: the
// context the layers below get (carrying the id and the record), the copy
// of the request they are sent, and what the end of the request needs. One
// allocation holds it all.
type logical struct {
	idContext
	t    *RequestIDTransport
	orig *http.Request // the caller's request, read only
	rec  record.Record

	// The end of the request.
	end   ending
	start time.Time
	span  trace.Span // nil without WithLogicalSpan
}

// Value returns the record for record's key and whether a summary will be
// written for summaryKey, and answers as idContext otherwise.
func (l *logical) Value(key any) any {
	if _, ok := key.(summaryKey); ok {
		return l.t.logger != nil
	}
	if record.IsKey(key) {
		return &l.rec
	}
	return l.idContext.Value(key)
}

// String names the context in panics and debug output, as the context
// package's own types do.
func (c *idContext) String() string { return "tracing.requestID" }

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
