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
// errclass.Classify returns [errclass.Timeout] for it. When the timeout was
// reported by a lower layer (a dial error, net/http's TLS handshake or header
// timeout), Unwrap returns that error.
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

var phaseText = map[errclass.Phase]string{
	errclass.PhaseDNS:            "dns lookup did not finish",
	errclass.PhaseConnect:        "connect did not finish",
	errclass.PhaseTLSHandshake:   "tls handshake did not finish",
	errclass.PhaseWriteIdle:      "request body not taken by the transport",
	errclass.PhaseResponseHeader: "response header not received",
	errclass.PhaseBodyIdle:       "no response body byte received",
	errclass.PhaseAttempt:        "attempt did not finish",
	errclass.PhaseTotal:          "request did not finish in its total time",
}

// Error returns a lower-case text naming the phase and the bound, such as
// "timeouts: response header not received within 3s".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("timeouts: ")
	if t, ok := phaseText[e.Phase]; ok {
		b.WriteString(t)
	} else {
		b.WriteString("timed out in phase ")
		b.WriteString(string(e.Phase))
	}
	switch e.Phase {
	case errclass.PhaseWriteIdle, errclass.PhaseBodyIdle:
		if e.Limit > 0 {
			b.WriteString(" for ")
			b.WriteString(e.Limit.String())
		}
	default:
		if e.Limit > 0 {
			b.WriteString(" within ")
			b.WriteString(e.Limit.String())
		}
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the lower-level error that reported the timeout, or nil.
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

// The texts of net/http's unexported timeout errors (transport.go errTimeout,
// h2_bundle.go http2errTimeout, tlsHandshakeTimeoutError). net/http offers no
// type to match them by; TestStdlibTimeoutTexts fails if they change.
const (
	h1HeaderTimeoutText = "net/http: timeout awaiting response headers"
	h2HeaderTimeoutText = "http2: timeout awaiting response headers"
	tlsTimeoutText      = "net/http: TLS handshake timeout"
)

// limits are the bounds a lower *http.Transport applies, for the Limit of
// translated errors.
type limits struct {
	tls, header time.Duration
}

// translate maps a timeout reported by a lower layer onto *Error, or returns
// nil when err is not one. An *Error from below is returned as it is.
// The whole of err is kept as the cause, so errors.As still finds every
// type in it (the *net.OpError around a *net.DNSError, say).
func translate(err error, l limits) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return nil
	}
	switch ne.Error() {
	case h1HeaderTimeoutText, h2HeaderTimeoutText:
		return &Error{Phase: errclass.PhaseResponseHeader, Limit: l.header, cause: err}
	case tlsTimeoutText:
		return &Error{Phase: errclass.PhaseTLSHandshake, Limit: l.tls, cause: err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsTimeout {
		return &Error{Phase: errclass.PhaseDNS, cause: err}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && op.Timeout() {
		return &Error{Phase: errclass.PhaseConnect, cause: err}
	}
	return nil
}
