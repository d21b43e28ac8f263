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
	RequestBody              // the caller's own request body failed to produce its bytes: never retried, never counted by a breaker
	Timeout                  // a bound ran out; PhaseOf says which
	DNS                      // the name did not resolve
	Refused                  // the connection was refused
	Reset                    // the connection broke: reset, broken pipe, EOF before a response
	TLS                      // the TLS handshake failed or the peer's certificate was rejected
	Status                   // the server answered with a 4xx or 5xx status
	BreakerOpen              // a circuit breaker rejected the call without sending it
	Limited                  // a client-side concurrency limit shed the call without sending it
	Protocol                 // the peer spoke malformed HTTP
	Unknown                  // none of the above
)

var names = [...]string{
	OK:          "ok",
	Canceled:    "canceled",
	RequestBody: "request_body",
	Timeout:     "timeout",
	DNS:         "dns",
	Refused:     "refused",
	Reset:       "reset",
	TLS:         "tls",
	Status:      "status",
	BreakerOpen: "breaker_open",
	Limited:     "limited",
	Protocol:    "protocol",
	Unknown:     "unknown",
}

// String returns the stable lower-case name of c ("ok", "canceled",
// "request_body", "timeout", "dns", "refused", "reset", "tls", "status",
// "breaker_open", "limited", "protocol", "unknown"). A value outside the
// constants gives "unknown".
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

// Classer is implemented by errors that know their own class, such as the
// errors of this module's other packages. Classify trusts the first Classer
// it finds in the chain before looking at anything else, so an error type of
// the caller's can declare its class too.
type Classer interface {
	Class() Class
}

// classerError is what errors.AsType needs to find a Classer.
type classerError interface {
	error
	Classer
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
