package timeouts

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/layer"
)

// Transport is the per-attempt timeouts middleware made by [New] and
// [Middleware]. For every round trip through it, it enforces the response
// header bound, the body idle bound, the write idle bound and the attempt
// bound, and reports each as an *[Error] naming the phase. It also turns the
// timeout errors of the layers below (net/http's TLS handshake and header
// timeouts, dial timeouts) into *Error.
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
	lim   limits    // bounds of the *http.Transport below, for translated errors
	slots sync.Pool // of *timerSlot
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that bounds each round trip through next as opts
// say (the defaults are listed on each option). A nil next is
// [http.DefaultTransport]. Options that only concern [NewTransport] (WithDNS,
// WithConnect, WithTLSHandshake, WithResolver) are accepted and ignored.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, newConfig(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	n := layer.Of(next)
	return &Transport{Next: n, cfg: c, ticks: newTicks(&c), lim: baseLimits(n.RT())}
}

// Middleware returns [New] as a middleware for chain.Build; the options are
// resolved once, here.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := newConfig(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// baseLimits finds the *http.Transport under rt by following Unwrap.
func baseLimits(rt http.RoundTripper) limits {
	for range 64 {
		if t, ok := rt.(*http.Transport); ok {
			return limits{tls: t.TLSHandshakeTimeout, header: t.ResponseHeaderTimeout}
		}
		u, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			break
		}
		rt = u.Unwrap()
	}
	return limits{}
}

var errNilResponse = errors.New("timeouts: next RoundTripper returned neither a response nor an error")

// RoundTrip sends req through the next RoundTripper under the configured
// bounds. It does not change req: next gets a shallow copy with a derived
// context (and, when req has a body, a wrapper of it that watches the upload).
// The response body is wrapped to enforce the idle and attempt bounds; the
// wrapper keeps io.Writer on 101 Switching Protocols bodies, whose streams
// are not bounded.
//
// A timeout of this layer is returned as *Error. The caller's own
// cancellation or earlier deadline is returned as next reported it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &t.cfg
	if !c.bounded() {
		// No bound of ours runs; timeouts that fire inside a transport from
		// NewTransport are still reported as *Error, with the hook.
		resp, err := t.RT().RoundTrip(req)
		switch {
		case err != nil:
			if resp != nil && resp.Body != nil { // a broken next: never both
				resp.Body.Close()
			}
			if e := translate(err, t.lim); e != nil && req.Context().Err() == nil {
				if c.onTimeout != nil {
					c.onTimeout(req, e)
				}
				err = e
			}
			return nil, err
		case resp == nil:
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, errNilResponse
		}
		return resp, nil
	}
	s := &exchange{t: t, parent: req.Context(), req: req}
	if c.attempt > 0 {
		s.attemptAt = mono() + int64(c.attempt)
	}
	r2 := req.WithContext(s)
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
	t.takeSlot(s) // publishes s to the slot's timer
	if c.attempt > 0 {
		s.ensure(t.ticks.attempt)
	}
	if headerRuns {
		s.ensure(t.ticks.header)
	}

	returned := false
	defer func() {
		if !returned { // next panicked
			s.finish()
			if req.Body != nil {
				req.Body.Close()
			}
		}
	}()
	resp, err := t.RT().RoundTrip(r2)
	returned = true

	if err == nil && resp == nil {
		err = errNilResponse
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if err != nil {
		if resp != nil && resp.Body != nil { // a broken next: never both
			resp.Body.Close()
		}
		return nil, s.fail(err)
	}

	s.mu.Lock()
	if s.fired.Load() != nil { // our timer won the race with the response
		s.mu.Unlock()
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, s.fail(err)
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
		if rw, ok := resp.Body.(interface {
			Read([]byte) (int, error)
			Write([]byte) (int, error)
			Close() error
		}); ok {
			s.rc = resp.Body
			resp.Body = &upgradedBody{respBody: (*respBody)(s), w: rw}
		} else {
			s.rc = resp.Body
			resp.Body = (*respBody)(s)
		}
	default:
		s.rc = resp.Body
		resp.Body = (*respBody)(s)
	}
	return resp, nil
}

// fail ends the exchange after next returned err and returns the error for
// the caller: the timeout of this layer when its timer fired, err itself when
// the caller's context ended, or err translated into *Error when a lower
// layer timed out.
func (s *exchange) fail(err error) error {
	fired := s.fired.Load()
	s.finish()
	var out *Error
	switch {
	case fired != nil:
		out = fired
	case s.parent.Err() != nil:
		return err
	case s.attemptOver():
		// next enforced the attempt deadline our context advertises before
		// our timer's tick: still the attempt bound.
		out = &Error{Phase: errclass.PhaseAttempt, Limit: s.t.cfg.attempt, cause: err}
	default:
		out = translate(err, s.t.lim)
		if out == nil {
			return err
		}
	}
	s.report(out)
	return out
}

// attemptOver reports whether the attempt bound has run out and the caller's
// context has not ended (attemptAt never changes once s is published).
func (s *exchange) attemptOver() bool {
	return s.attemptAt != 0 && mono() >= s.attemptAt && !s.parentExpired()
}

// report calls the OnTimeout hook, once per exchange.
func (s *exchange) report(e *Error) {
	f := s.t.cfg.onTimeout
	if f == nil {
		return
	}
	s.mu.Lock()
	first := !s.reported
	s.reported = true
	s.mu.Unlock()
	if first {
		f(s.req, e)
	}
}

// epoch anchors mono; it carries a monotonic clock reading.
var epoch = time.Now()

// mono returns monotonic nanoseconds since epoch: cheap to compare and store.
func mono() int64 { return int64(time.Since(epoch)) }
