// Package errclass says what went wrong with an HTTP exchange, as data.
//
// Go's net/http, net and crypto/tls report failures through a dozen error
// types, several unexported, wrapped in *url.Error and in each other. Retry
// policies, circuit breakers, metrics and logs all need the same answer to the
// same question: what kind of failure was this? This package gives that answer
// once, in three small values.
//
// # Class: what kind of failure
//
// [Classify] maps any error to a [Class]; [ClassifyResponse] does the same for
// the (response, error) pair of a round trip, so that a 4xx or 5xx answer is
// [Status]. Both look through *url.Error and any %w wrapping (errors.Join
// included). The classes, with what produces them:
//
//   - [OK]: no error (and, for ClassifyResponse, a status below 400).
//   - [Canceled]: the caller gave up: context.Canceled, also when net/http
//     returns it inside a *url.Error, and net/http's "request canceled".
//     Never retried, never counted against a breaker.
//   - [Timeout]: a bound ran out: context.DeadlineExceeded,
//     os.ErrDeadlineExceeded, any net.Error whose Timeout() is true anywhere
//     in the chain (dial timeouts, net/http's "timeout awaiting response
//     headers", "TLS handshake timeout", "Client.Timeout exceeded"), and a
//     *net.DNSError that timed out. [PhaseOf] says which bound.
//   - [DNS]: the name did not resolve: a *net.DNSError that is not a timeout
//     (not found, or a temporary server failure; inspect the *net.DNSError
//     with errors.As to tell them apart).
//   - [Refused]: no connection could be made: ECONNREFUSED, or a dial that
//     failed with "host unreachable", "network unreachable" or "host down".
//   - [Reset]: an established connection broke: ECONNRESET, ECONNABORTED,
//     EPIPE (broken pipe), io.EOF or io.ErrUnexpectedEOF before or during
//     the response, net.ErrClosed, net/http's "server closed idle
//     connection", and HTTP/2 stream resets (RST_STREAM, including
//     REFUSED_STREAM) and GOAWAY.
//   - [TLS]: the TLS handshake failed or the peer's certificate was
//     rejected: *tls.CertificateVerificationError, the x509 errors (unknown
//     authority, invalid or expired certificate, hostname mismatch, ...),
//     tls.RecordHeaderError and http.ErrSchemeMismatch (the peer does not
//     speak TLS), TLS alerts sent or received, and the other handshake errors
//     of crypto/tls.
//   - [Status]: the server answered with a 4xx or 5xx status
//     ([ClassifyResponse], or a [*StatusError] from [FromResponse]).
//   - [BreakerOpen]: a circuit breaker rejected the call without sending it.
//   - [Protocol]: the peer spoke malformed HTTP: a bad status line or header
//     (textproto.ProtocolError), a bad Content-Length, malformed chunked
//     encoding, an oversized response header, an HTTP/2 stream reset by this
//     side because of the peer's protocol error.
//   - [Unknown]: none of the above (for instance a malformed request or an
//     unsupported URL scheme, which no retry can fix).
//
// The order of the checks is the order of that list after one rule that
// comes first: an error that implements [Classer] (this module's own errors,
// or the caller's) is trusted. Cancellation is checked before everything
// else, so a lookup or dial cut short by the caller is Canceled, not DNS.
//
// Every decision is made with errors.Is and errors.As over the standard
// library's types, except for a few errors net/http and its HTTP/2
// implementation do not export; those are recognised by their exact text,
// each named in the source, and a test of this package fails if the
// standard library changes one of them.
//
// The String form of a Class ("ok", "canceled", "timeout", "dns", "refused",
// "reset", "tls", "status", "breaker_open", "protocol", "unknown") is stable:
// use it as a metric attribute or log field (a small, documented set of
// values).
//
// # Phase: which bound ran out
//
// [PhaseOf] tells, for a timeout, in which part of the exchange it fired:
// [PhaseDNS], [PhaseConnect], [PhaseTLSHandshake], [PhaseWriteIdle],
// [PhaseResponseHeader], [PhaseBodyIdle], [PhaseAttempt] or [PhaseTotal].
// Errors implementing [Phaser] (the timeouts package's errors) say it
// themselves; the standard library's timeouts are mapped where their type or
// text tells: a *net.DNSError timeout is PhaseDNS, a timed-out dial
// *net.OpError is PhaseConnect, net/http's "TLS handshake timeout" is
// PhaseTLSHandshake, "timeout awaiting response headers" (HTTP/1 and HTTP/2)
// is PhaseResponseHeader, and http.Client's "Client.Timeout exceeded" is
// PhaseTotal. A bare context.DeadlineExceeded has no phase ([PhaseNone]): it
// could be any deadline of the caller's.
//
// # Unsent: is a resend safe?
//
// [Unsent] reports whether an error proves that the server never received
// the request, so that resending it is safe even when it is not idempotent.
// See its documentation for the exact list.
//
// # Sentinels and errors of this module
//
// [ErrNetwork], [ErrTimeout] and [ErrHTTPStatus] serve errors.Is. Errors made
// by this module (timeouts, breaker, this package's [*StatusError]) match the
// sentinel of their class, through [Class.Sentinel]; errors of the standard
// library do not (this package cannot change them): use [Classify] for those.
//
// # Status errors
//
// A RoundTripper never turns a response into an error. A caller who wants
// one calls [FromResponse], which returns a [*StatusError] for a status of 400
// or more, with a bounded snippet of the body and with secrets redacted from
// its URL and header.
//
// Everything in this package is safe for concurrent use.
package errclass

import (
	"context"
	"errors"
	"net/http"
)

// Class is the kind of failure of one HTTP exchange. Its String form is a
// stable lower-case name, fit for logs and metric attributes. The zero Class
// is OK.
type Class uint8

// The classes, from the most to the least specific.
const (
	OK          Class = iota // no error and, for ClassifyResponse, a status below 400
	Canceled                 // the caller gave up (context.Canceled): never retried, never counted by a breaker
	Timeout                  // a bound ran out; PhaseOf says which
	DNS                      // the name did not resolve
	Refused                  // the connection was refused
	Reset                    // the connection broke: reset, broken pipe, EOF before a response
	TLS                      // the TLS handshake failed or the peer's certificate was rejected
	Status                   // the server answered with a 4xx or 5xx status
	BreakerOpen              // a circuit breaker rejected the call without sending it
	Protocol                 // the peer spoke malformed HTTP
	Unknown                  // none of the above
)

var names = [...]string{
	OK:          "ok",
	Canceled:    "canceled",
	Timeout:     "timeout",
	DNS:         "dns",
	Refused:     "refused",
	Reset:       "reset",
	TLS:         "tls",
	Status:      "status",
	BreakerOpen: "breaker_open",
	Protocol:    "protocol",
	Unknown:     "unknown",
}

// String returns the stable lower-case name of c ("ok", "canceled", "timeout",
// "dns", "refused", "reset", "tls", "status", "breaker_open", "protocol",
// "unknown"). A value outside the constants gives "unknown".
func (c Class) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return "unknown"
}

// Sentinel returns the sentinel error that errors of class c match with
// errors.Is: [ErrNetwork] for DNS, Refused, Reset and TLS, [ErrTimeout] for
// Timeout, [ErrHTTPStatus] for Status, and nil for the other classes (which
// have no sentinel here; a breaker's rejection has its own in the breaker
// package).
//
// An error type that knows its class implements errors.Is support in one
// line:
//
//	func (e *MyError) Is(target error) bool { return target != nil && target == e.Class().Sentinel() }
func (c Class) Sentinel() error {
	switch c {
	case DNS, Refused, Reset, TLS:
		return ErrNetwork
	case Timeout:
		return ErrTimeout
	case Status:
		return ErrHTTPStatus
	}
	return nil
}

// Phase names the part of an exchange in which a timeout fired. Its values are
// stable lower-case names, fit for logs and metric attributes.
type Phase string

// The phases of an exchange, in the order they happen.
const (
	PhaseNone           Phase = ""                // not a timeout, or a timeout whose phase is unknown
	PhaseDNS            Phase = "dns"             // resolving the host name
	PhaseConnect        Phase = "connect"         // dialing one address
	PhaseTLSHandshake   Phase = "tls_handshake"   // the TLS handshake
	PhaseWriteIdle      Phase = "write_idle"      // the transport took no byte of the request body
	PhaseResponseHeader Phase = "response_header" // waiting for the response header
	PhaseBodyIdle       Phase = "body_idle"       // no byte of the response body arrived
	PhaseAttempt        Phase = "attempt"         // one attempt, header and body
	PhaseTotal          Phase = "total"           // every attempt and every wait together
)

// Classer is implemented by errors that know their own class, such as the
// errors of this module's other packages. Classify trusts the first Classer
// it finds in the chain before looking at anything else, so an error type of
// the caller's can declare its class too.
type Classer interface {
	Class() Class
}

// Phaser is implemented by timeout errors that know their phase. PhaseOf
// trusts the first Phaser it finds in the chain.
type Phaser interface {
	TimeoutPhase() Phase
}

// Sentinels for errors.Is. Errors made by this module match the sentinel of
// their class (see [Class.Sentinel]); for errors from the standard library use
// [Classify].
var (
	// ErrNetwork matches network failures: DNS, Refused, Reset, TLS.
	ErrNetwork = errors.New("errclass: network error")
	// ErrTimeout matches timeouts of every phase.
	ErrTimeout = errors.New("errclass: timeout")
	// ErrHTTPStatus matches *StatusError.
	ErrHTTPStatus = errors.New("errclass: http status error")
)

// Classify returns the class of err. A nil err is OK; an error no check
// recognises is Unknown. It looks through *url.Error and any %w wrapping
// (including errors.Join and other multi-errors). The package documentation
// lists what each class covers and the order of the checks.
//
// Classify allocates nothing for the common errors of net and net/http; only
// an error that no typed check recognises costs the formatting of the
// innermost error texts.
func Classify(err error) Class {
	if err == nil {
		return OK
	}
	if c, ok := errors.AsType[classerError](err); ok {
		return c.Class()
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if c, ok := classifyDNS(err); ok {
		return c
	}
	if isTimeout(err) {
		return Timeout
	}
	if isRefused(err) {
		return Refused
	}
	if isTLS(err) {
		return TLS
	}
	if c, ok := classifyH2(err); ok {
		return c
	}
	if isReset(err) {
		return Reset
	}
	if isProtocol(err) {
		return Protocol
	}
	return classifyText(err)
}

// ClassifyResponse returns the class of the outcome of a round trip: the class
// of err when it is not nil, Status for a response with a status of 400 or
// more, OK otherwise (including a nil response with a nil error, which a
// correct RoundTripper never returns). The response body is not touched.
func ClassifyResponse(resp *http.Response, err error) Class {
	if err != nil {
		return Classify(err)
	}
	if resp != nil && resp.StatusCode >= 400 {
		return Status
	}
	return OK
}
