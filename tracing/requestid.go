package tracing

import (
	"context"
	"net/http"

	"github.com/rtchain/chain/internal/layer"
)

// RequestIDTransport sets a request id header once per logical request. Place
// it outside the retry layer, so that every attempt of one request carries the
// same id. It is safe for concurrent use.
type RequestIDTransport struct {
	layer.Next
	header string
	newID  func() string
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
// clone. A nil next means [http.DefaultTransport]. Options other than
// WithHeader and WithIDGenerator are ignored.
func NewRequestID(next http.RoundTripper, opts ...Option) *RequestIDTransport {
	c := newConfig(opts)
	return &RequestIDTransport{Next: layer.Of(next), header: c.header, newID: c.newID}
}

// RoundTrip sends a clone of req that carries the request id, through the
// next RoundTripper. The request body is the next RoundTripper's to close. A
// (nil, nil) from next becomes an error.
func (t *RequestIDTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	id := req.Header.Get(t.header)
	set := false
	if id == "" {
		if id = RequestIDFrom(ctx); id == "" {
			id = t.newID()
		}
		set = true
	}
	if RequestIDFrom(ctx) != id {
		ctx = context.WithValue(ctx, requestIDKey{}, id)
	} else if !set {
		return t.send(req) // nothing to add
	}
	out := req.Clone(ctx)
	if set {
		out.Header.Set(t.header, id)
	}
	return t.send(out)
}

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

type requestIDKey struct{}

// RequestIDFrom returns the request id that [RequestIDTransport] put on ctx,
// or "" when there is none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
