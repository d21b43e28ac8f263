package hedge

import (
	"net/http"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/hostkey"
	"github.com/rtchain/chain/internal/layer"
)

// Transport is an [http.RoundTripper] that hedges the requests it sends
// through the next one: see the package doc. Make it with [New] or
// [Middleware]; the zero value is not usable. It is safe for concurrent use.
type Transport struct {
	layer.Next
	hedges http.RoundTripper // where hedges go: next, or a clone of next when next is an *http.Transport
	cfg    config
	hosts  hosts // latency sketches, with an adaptive delay
	slots  slots // hedge timers
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that sends requests through next (nil means
// [http.DefaultTransport]) and hedges them as the options say. When next is
// an *http.Transport, hedges go through a clone of it made here, so that they
// never share a connection with the attempt they hedge, over HTTP/2 too (see
// [Split] for a stack with layers in between). An invalid option value panics
// when the option is made.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, resolve(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	t := &Transport{Next: layer.Of(next), cfg: c}
	t.hosts.q = c.quantile
	t.hedges = t.RT()
	if ht, ok := t.hedges.(*http.Transport); ok {
		t.hedges = ht.Clone()
	}
	return t
}

// Middleware returns a function that wraps a RoundTripper in a [Transport]
// with opts; it is assignable to chain.Middleware. The options are resolved
// once (an invalid one panics here); each wrapped RoundTripper gets its own
// latency sketches, and shares the budget of [WithBudget] if one is given.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := resolve(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// CloseIdleConnections closes the idle connections of the next layer and, when
// hedges go through a clone of it, of the clone's.
func (t *Transport) CloseIdleConnections() {
	t.Next.CloseIdleConnections()
	if t.hedges != t.RT() {
		layer.Of(t.hedges).CloseIdleConnections()
	}
}

// RoundTrip sends req through the next RoundTripper and, while no response
// headers have come back, hedges through it as configured. It returns the
// first response to arrive, body untouched, or an error when every attempt
// failed; req is never modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	delay, sk, start, ok := t.plan(req)
	if !ok {
		next := t.RT()
		resp, err := next.RoundTrip(req)
		resp, err = layer.Checked("hedge", next, req, resp, err)
		return resp, errclass.Wrap(err)
	}
	r := &race{t: t, req: req, delay: delay, sk: sk, start: start}
	r.ctx.r = r
	r.first = *req.WithContext(&r.ctx)
	returned := false
	defer func() {
		if !returned {
			r.abandon() // next panicked: the panic goes on
		}
	}()
	resp, err := t.RT().RoundTrip(&r.first)
	returned = true
	return r.finishFirst(resp, err)
}

// plan decides whether req may be hedged, after which delay, and when its
// first attempt starts.
func (t *Transport) plan(req *http.Request) (delay time.Duration, sk *sketch, start time.Time, ok bool) {
	if !hedgeable(req) {
		return 0, nil, start, false
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		return 0, nil, start, false
	}
	start = time.Now()
	delay = t.cfg.delay
	if delay == 0 {
		sk = t.hosts.get(hostkey.Of(req))
		delay = t.cfg.clamp(sk.current(start))
	}
	if !roomFor(ctx, 2*delay) {
		return 0, nil, start, false
	}
	return delay, sk, start, true
}

// hedgeable reports whether req may be sent more than once: the method is
// idempotent or the request carries an idempotency key (the retry package's
// rule), its body can be replayed, and it asks for no protocol upgrade.
func hedgeable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}
