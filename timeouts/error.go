package timeouts

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Error is the error of every timeout this package enforces or recognises. It
// names the phase of the exchange that ran out of time and the bound that
// applied (0 when a lower layer reported the timeout without saying its
// bound).
//
// It is a net.Error whose Timeout method reports true, it matches
// [errclass.ErrTimeout] and [context.DeadlineExceeded] with errors.Is, and
// errclass.Classify returns [errclass.Timeout] for it. Unwrap returns the
// error that the timeout ended, when there is one: the dial error, net/http's
// own timeout error, or, for Phase total, the last error the layers below
// returned (so errors.Is still finds a syscall.ECONNREFUSED behind a total
// timeout).
type Error struct {
	Phase errclass.Phase
	Limit time.Duration
	cause error
}

var (
	_ net.Error        = (*Error)(nil)
	_ errclass.Classer = (*Error)(nil)
	_ errclass.Phaser  = (*Error)(nil)
)

// phaseText says what did not happen in each phase; "within" or "for" and
// the bound follow.
var phaseText = map[errclass.Phase]string{
	errclass.PhaseDNS:            "name not resolved",
	errclass.PhaseConnect:        "no connection",
	errclass.PhaseTLSHandshake:   "tls handshake not done",
	errclass.PhaseWriteIdle:      "no request body byte taken",
	errclass.PhaseResponseHeader: "no response header",
	errclass.PhaseBodyIdle:       "no response body byte received",
	errclass.PhaseAttempt:        "attempt not done",
	errclass.PhaseTotal:          "request not done",
}

// Error returns a lower-case text that names the phase by its token, says
// what did not happen and the bound, and ends with the cause when there is
// one: "timeouts: response_header: no response header within 3s".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("timeouts: ")
	b.WriteString(string(e.Phase))
	b.WriteString(": ")
	t, ok := phaseText[e.Phase]
	if !ok {
		t = "timed out"
	}
	b.WriteString(t)
	if e.Limit > 0 {
		if e.Phase == errclass.PhaseWriteIdle || e.Phase == errclass.PhaseBodyIdle {
			b.WriteString(" for ")
		} else {
			b.WriteString(" within ")
		}
		b.WriteString(e.Limit.String())
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the error the timeout ended, or nil.
func (e *Error) Unwrap() error { return e.cause }

// Timeout reports whether the error is a timeout: always true.
func (e *Error) Timeout() bool { return true }

// Temporary reports true, as net/http's own timeout errors do.
//
// Deprecated: see [net.Error].
func (e *Error) Temporary() bool { return true }

// Is reports whether target is [errclass.ErrTimeout] or
// [context.DeadlineExceeded].
func (e *Error) Is(target error) bool {
	return target == errclass.ErrTimeout || target == context.DeadlineExceeded
}

// Class returns [errclass.Timeout].
func (e *Error) Class() errclass.Class { return errclass.Timeout }

// TimeoutPhase returns e.Phase.
func (e *Error) TimeoutPhase() errclass.Phase { return e.Phase }

// limits are the bounds a lower *http.Transport applies, for the Limit of
// translated errors.
type limits struct {
	tls, header time.Duration
}

// translate maps a timeout reported by a lower layer onto *Error, or returns
// nil when err is not one. An *Error from below is returned as it is. The
// phase comes from errclass.PhaseOf, which knows net/http's unexported
// timeout errors; the whole of err is kept as the cause, so errors.As still
// finds every type in it (the *net.OpError around a *net.DNSError, say).
func translate(err error, l limits) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	switch ph := errclass.PhaseOf(err); ph {
	case errclass.PhaseResponseHeader:
		return &Error{Phase: ph, Limit: l.header, cause: err}
	case errclass.PhaseTLSHandshake:
		return &Error{Phase: ph, Limit: l.tls, cause: err}
	case errclass.PhaseDNS, errclass.PhaseConnect:
		return &Error{Phase: ph, cause: err}
	}
	return nil
}

// bodyError is a failure of the caller's own request body: its Read
// returned an error (a truncated source, a client of a proxy that went away,
// a timeout of the source's own). It is of class request_body and matches no
// sentinel that blames the server, so a retry layer does not resend the
// request for it and a breaker does not count it.
type bodyError struct {
	err error
}

var (
	_ errclass.Classer = (*bodyError)(nil)
	_ errclass.Phaser  = (*bodyError)(nil)
)

func (e *bodyError) Error() string {
	return "timeouts: request_body: reading the request body failed: " + e.err.Error()
}

// Unwrap returns the error of the body's Read.
func (e *bodyError) Unwrap() error { return e.err }

// Class returns [errclass.RequestBody].
func (e *bodyError) Class() errclass.Class { return errclass.RequestBody }

// TimeoutPhase returns [errclass.PhaseRequestBody].
func (e *bodyError) TimeoutPhase() errclass.Phase { return errclass.PhaseRequestBody }
