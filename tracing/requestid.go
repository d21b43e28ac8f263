package tracing

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
)

// LogicalSpanName is the name of the INTERNAL span that RequestID makes with
// [WithLogicalSpan].
const LogicalSpanName = "chain.request"

// RequestIDTransport sets a request id header once per logical request. Place
// it outside the retry layer, so that every attempt of one request carries the
// same id. It is safe for concurrent use.
type RequestIDTransport struct {
	layer.Next
	header string
	newID  func() string
	tracer trace.Tracer // nil: no logical span
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
// one (it is kept as it is); the id on the request's context (an outer
// RequestID already chose one); a new one from the generator of
// [WithIDGenerator]. The caller's request is never modified: the id is set on a
// clone. A nil next means [http.DefaultTransport].
//
// With [WithLogicalSpan], it also makes one INTERNAL span per logical request
// (see there), from the provider of [WithTracerProvider]. Other options are
// ignored.
func NewRequestID(next http.RoundTripper, opts ...Option) *RequestIDTransport {
	c := newConfig(opts)
	t := &RequestIDTransport{Next: layer.Of(next), header: c.header, newID: c.newID}
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
	ctx := req.Context()
	fromCtx := RequestIDFrom(ctx)
	id := req.Header.Get(t.header)
	set := false
	if id == "" {
		if id = fromCtx; id == "" {
			id = t.newID()
		}
		set = true
	}
	if fromCtx == id && !set && t.tracer == nil {
		return t.send(req) // nothing to add
	}
	ic := &idContext{Context: ctx, id: id}
	if fromCtx != id {
		ctx = ic
	}
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.tracer.Start(ctx, LogicalSpanName, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(RequestIDKey.String(id)))
	}
	out := req.WithContext(ctx)
	if set {
		h := req.Header.Clone()
		if h == nil {
			h = make(http.Header, 1)
		}
		ic.value[0] = id
		h[t.header] = ic.value[:]
		out.Header = h
	}
	resp, err := t.send(out)
	if span != nil {
		resp = endLogical(span, req.Context(), resp, err)
	}
	return resp, err
}

// idContext carries the request id on a context. It is context.WithValue
// with the id's boxing saved, and it also holds the backing array of the
// header value: one allocation for both.
type idContext struct {
	context.Context
	id    string
	value [1]string
}

// Value returns the id for requestIDKey and asks the parent otherwise.
func (c *idContext) Value(key any) any {
	if key == (requestIDKey{}) {
		return c.id
	}
	return c.Context.Value(key)
}

// String names the context in panics and debug output, as the context
// package's own types do.
func (c *idContext) String() string { return "tracing.requestID" }

// send passes req to the next RoundTripper, turning a (nil, nil) answer into
// an error.
func (t *RequestIDTransport) send(req *http.Request) (*http.Response, error) {
	resp, err := t.RT().RoundTrip(req)
	if resp == nil && err == nil {
		if req.Body != nil {
			req.Body.Close() // a next layer this broken may not have closed it
		}
		return nil, errNilResponse
	}
	return resp, err
}

// endLogical arranges for the logical span to end with the request: at once
// on an error, else when the response body ends or the caller's context does.
// Its status is Error, with error.type, when the final outcome failed; it
// carries no HTTP attribute, so it is never mistaken for a client span.
func endLogical(span trace.Span, parent context.Context, resp *http.Response, err error) *http.Response {
	// The body's end and the context's end may race; the loser waits until
	// the span has ended (see attemptState.finish).
	var (
		mu    sync.Mutex
		ended bool
	)
	end := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return
		}
		ended = true
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if errType, failed := errorType(parent, status, err, false); failed {
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
	if err != nil {
		end(err)
		return resp
	}
	var stop func() bool
	if parent.Done() != nil {
		stop = context.AfterFunc(parent, func() { end(parent.Err()) })
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	resp.Body = body.Wrap(resp.Body, func(err error) {
		if stop != nil {
			stop()
		}
		if err == io.EOF {
			err = nil
		}
		end(err)
	})
	return resp
}

type requestIDKey struct{}

// RequestIDFrom returns the request id that [RequestIDTransport] put on ctx,
// or "" when there is none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newID returns 128 random bits as 32 lower-case hex digits.
func newID() string {
	const digits = "0123456789abcdef"
	var b [32]byte
	for i, v := range [2]uint64{rand.Uint64(), rand.Uint64()} {
		for j := 15; j >= 0; j-- {
			b[i*16+j] = digits[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}
