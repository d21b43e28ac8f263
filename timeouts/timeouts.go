package timeouts

import (
	"net/http"
	"time"

	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
)

// Transport is the per-attempt timeouts middleware made by [New] and
// [Middleware]. For every round trip through it, it enforces the response
// header bound, the body idle bound, the write idle bound and the attempt
// bound, and reports each as an *[Error] naming the phase. It also turns the
// timeout errors of the layers below (net/http's TLS handshake and header
// timeouts, dial timeouts) into *Error, and marks a failure of the caller's
// own request body as such (class request_body, see errclass.RequestBody).
//
// It starts no goroutine per request. Each round trip takes a timer from a
// pool kept by the Transport; the timer ticks only while a bound is running,
// every sixteenth of that bound, so a bound fires no earlier than its limit
// and at most an eighth of it later. The timer goes back to the pool when the
// response body reaches EOF, fails or is closed, or when RoundTrip fails or
// next panics; the context given to next lives until then too.
//
// A Transport is safe for concurrent use. Its configuration is fixed at
// construction.
type Transport struct {
	layer.Next
	cfg   config
	ticks ticks
	clock clock
	lim   limits // bounds of the *http.Transport below, for translated errors
	slots slots[exchange, *exchange]
}

var _ http.RoundTripper = (*Transport)(nil)

// ticks are the tick intervals of the static bounds.
type ticks struct {
	header, body, attempt time.Duration
}

// New returns a Transport that bounds each round trip through next as opts
// say (the defaults are listed on each option). A nil next is
// [http.DefaultTransport]. Of opts, the settings of NewTransport's own phases
// (WithDNS, WithConnect, WithResolver, WithDialer) do not apply here;
// WithTLSHandshake is used only as the Limit of a translated net/http
// handshake timeout.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, newConfig(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	n := layer.Of(next)
	t := &Transport{
		Next:  n,
		cfg:   c,
		ticks: ticks{header: tick(c.header), body: tick(c.bodyIdle), attempt: tick(c.attempt)},
		clock: newClock(),
	}
	if b, ok := layer.Base(n.RT()).(*http.Transport); ok {
		t.lim = limits{tls: b.TLSHandshakeTimeout, header: b.ResponseHeaderTimeout}
	}
	return t
}

// Middleware returns [New] as a middleware for chain.Build; the options are
// resolved once, here.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := newConfig(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// RoundTrip sends req through the next RoundTripper under the configured
// bounds. It does not change req: next gets a shallow copy with a derived
// context (and, when req has a body, a wrapper of it that watches the upload).
// The response body is wrapped to enforce the idle and attempt bounds; the
// wrapper keeps io.Writer on 101 Switching Protocols bodies, whose streams
// are not bounded.
//
// A timeout of this layer is returned as *Error. The caller's own
// cancellation or earlier deadline is returned as next reported it. Every
// error passes through errclass.Wrap.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	s, r2 := t.start(req)
	resp, err := s.send(req, r2)
	if err != nil {
		return nil, err
	}
	return s.receive(resp)
}

// start makes the exchange of req and the request next gets, and starts the
// bounds that run from the call.
func (t *Transport) start(req *http.Request) (*exchange, *http.Request) {
	c := &t.cfg
	s := &exchange{t: t}
	s.req = req
	now := t.clock.now()
	if c.attempt > 0 {
		s.attemptAt = now + int64(c.attempt)
	}
	// The copy lives in s: WithContext's own copy does not escape, so the
	// exchange, its context and the request next gets cost one allocation.
	s.out = *req.WithContext(s)
	r2 := &s.out
	if req.Body != nil && req.Body != http.NoBody {
		s.up = &upload{s: s, rc: req.Body}
		r2.Body = s.up
	} else if c.header > 0 {
		// Until the transport says (httptrace) when the request is written,
		// the header clock runs from now.
		s.written = true
		s.epochs = 1
		s.headerRun = 1
	}
	headerRuns := s.headerRun != 0
	s.slot = t.slots.get(t.clock.bubbled(now))
	s.slot.publish(s) // after every field the timer's onTimer reads
	if c.attempt > 0 {
		s.ensure(t.ticks.attempt)
	}
	if headerRuns {
		s.ensure(t.ticks.header)
	}
	return s, r2
}

// send calls next, and keeps the RoundTripper contract when next breaks it
// (a panic, a nil response with a nil error, both a response and an error).
func (s *exchange) send(req, r2 *http.Request) (*http.Response, error) {
	returned := false
	defer func() {
		if !returned { // next panicked
			s.finish()
			closeBody(req)
		}
	}()
	next := s.t.RT()
	resp, err := next.RoundTrip(r2)
	returned = true
	if resp, err = layer.Checked("timeouts", next, req, resp, err); err != nil {
		return nil, s.fail(err)
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// receive moves the exchange to its body phase and wraps the response body.
func (s *exchange) receive(resp *http.Response) (*http.Response, error) {
	s.mu.Lock()
	if s.fired.Load() != nil { // our timer won the race with the response
		s.mu.Unlock()
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, s.fail(nil)
	}
	if (resp.Body == nil || resp.Body == http.NoBody) && s.finished.CompareAndSwap(false, true) {
		// Nothing to wait for: end the exchange under this same lock.
		e := s.endLocked()
		s.mu.Unlock()
		e.run(s)
		return resp, nil
	}
	s.phase = phaseBody
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Decided under the same lock as the check above, so that no bound
		// can fire between the header and the upgrade (upgrade releases the
		// timer below).
		s.phase = phaseUpgraded
	}
	s.headerRun = 0
	s.seenID = 0 // from header epochs to Read sequence numbers (the first is 1)
	s.mu.Unlock()

	switch {
	case resp.Body == nil || resp.Body == http.NoBody:
		s.finish()
	case resp.StatusCode == http.StatusSwitchingProtocols:
		s.upgrade()
		s.rc = resp.Body
		resp.Body = body.KeepWriter((*respBody)(s), s.rc)
	default:
		s.rc = resp.Body
		resp.Body = (*respBody)(s)
	}
	return resp, nil
}
