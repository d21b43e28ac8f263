package breaker

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Outcome is what one call says about the health of its key's server.
type Outcome uint8

// The outcomes of a call. Neutral outcomes are not counted at all: they
// neither trip nor heal a breaker, and a neutral probe frees its slot.
const (
	Success Outcome = iota // the server did its part
	Failure                // the server failed: counted toward the trip dimensions
	Neutral                // says nothing about the server (the caller gave up, the call was never sent, the server asked us to slow down)
)

// String returns "success", "failure" or "neutral".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Neutral:
		return "neutral"
	}
	return "unknown"
}

// DefaultOutcome is the rule [WithOutcome] replaces. An error is a Failure
// (network errors, our own layers' timeouts, a failure while reading the
// response body), unless it says nothing about the server
// ([errclass.Neutral]: cancellations, the caller's request body, rejections
// of a breaker or limiter below, which are Neutral). A 5xx response is a
// Failure; a 429 is Neutral (the server pacing us, not failing); every other
// response, 4xx included, is a Success. Write your own rule on top of it:
//
//	breaker.WithOutcome(func(resp *http.Response, err error) breaker.Outcome {
//		if err == nil && resp.StatusCode == http.StatusTooManyRequests {
//			return breaker.Failure // count 429 as an outage too
//		}
//		return breaker.DefaultOutcome(resp, err)
//	})
func DefaultOutcome(resp *http.Response, err error) Outcome {
	switch {
	case err != nil:
		if errclass.Neutral(err) {
			return Neutral
		}
		return Failure
	case resp == nil || resp.StatusCode >= 500:
		return Failure
	case resp.StatusCode == http.StatusTooManyRequests:
		return Neutral
	}
	return Success
}

// classify returns the outcome of a call of req: Neutral for an error after
// the caller's own context ended (its cancellation or deadline, not a bound
// of a layer below, which leaves req's context alive) and for errors that say
// nothing about the server; otherwise what the configured rule says.
func (c *config) classify(req *http.Request, resp *http.Response, err error) Outcome {
	if err != nil && (req.Context().Err() != nil || errclass.Neutral(err)) {
		return Neutral
	}
	if c.outcome != nil {
		return c.outcome(resp, err)
	}
	return DefaultOutcome(resp, err)
}

// hasBody reports whether the outcome of resp waits for the end of its body:
// a body that can fail after the headers. A 101 Switching Protocols body is
// a connection, not a response body; it is judged at the headers.
func hasBody(resp *http.Response) bool {
	return resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols
}

// body wraps the body of a response whose headers were a success, and
// reports the call's outcome when the body ends: at EOF a success, on a read
// error what the rule says of it (with the settings in force then), on Close
// before either a success (the caller stopped reading; the server did nothing
// wrong). The outcome is placed in the windows at the time the headers
// arrived, so that the common end, a success, reads no clock. It is
// allocated once per such call (80 bytes): it cannot be pooled, because the
// caller may still hold it (and call Close again) after it ended.
type body struct {
	rc      io.ReadCloser
	c       *circuit
	tk      ticket
	req     *http.Request
	resp    *http.Response
	at      int64 // when the headers arrived
	latency time.Duration
	ended   atomic.Bool
}

// Read reads from the response body; an error other than io.EOF ends the
// call and comes back through [errclass.Wrap].
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.end(err)
		if err != io.EOF {
			err = errclass.Wrap(err)
		}
	}
	return n, err
}

// Close reports the outcome, if the body has not ended yet, and closes the
// underlying body.
func (b *body) Close() error {
	b.end(nil)
	return b.rc.Close()
}

func (b *body) end(err error) {
	if !b.ended.CompareAndSwap(false, true) {
		return
	}
	t := b.c.t
	cfg := t.cfg.Load()
	out := Success
	if err != nil && err != io.EOF {
		out = cfg.classify(b.req, b.resp, err)
	}
	b.c.done(t, cfg, b.tk, b.at, obs{latency: b.latency, failed: out == Failure, late: true}, out != Neutral)
}
