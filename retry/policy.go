package retry

import (
	"errors"
	"net"
	"net/http"

	"github.com/rtchain/chain/errclass"
)

// PolicyFunc decides whether the outcome of one attempt is worth another
// attempt. It is called after every attempt that was not refused by the
// layer below (see below), the last allowed one included (its answer then
// only tells the give-up reason: [GiveUpPolicy] or [GiveUpAttempts]), with
// the attempt's request and either its response or its error. It must not
// read or close the response body, nor modify the request, and it must be
// safe for concurrent use.
//
// A PolicyFunc only says "worth retrying". The Transport still refuses to
// retry when the caller's context is done, when the request body cannot be
// replayed, when Retry-After asks for more than the cap, when the wait and
// the least time of an attempt would end after the context's deadline, or
// when the budget is spent. An attempt refused by a layer below without
// being sent (class [errclass.BreakerOpen] or [errclass.Limited]) never
// reaches the policy: the Transport waits out a pause the refusal relays
// ([errclass.PausedFor]) and sends again, or returns the last real outcome.
type PolicyFunc func(Outcome) bool

// Outcome is what one attempt produced, as seen by a [PolicyFunc]. The
// Transport classifies each outcome once and carries the result in Class,
// Phase and Unsent.
type Outcome struct {
	// Request is the request of this attempt. Read it, never change it.
	Request *http.Request
	// Attempt is the number of this attempt: 0 for the first.
	Attempt int
	// Response is the attempt's response, nil when Err is not nil. Its body
	// belongs to the Transport: do not read or close it.
	Response *http.Response
	// Err is the attempt's error, nil when Response is not nil.
	Err error
	// Class is [errclass.ClassifyResponse] of Response and Err: the
	// error's class, Status for a status of 400 or more, OK otherwise.
	Class errclass.Class
	// Phase is [errclass.PhaseOf] of Err: which bound a timeout hit.
	Phase errclass.Phase
	// Unsent is [errclass.Unsent] of Err: the request provably never
	// reached the server.
	Unsent bool
	// Idempotent reports whether the request may be sent twice: its method
	// is GET, HEAD, OPTIONS, TRACE, PUT or DELETE, it carries an
	// Idempotency-Key or X-Idempotency-Key header, or the Transport was
	// built with [WithNonIdempotent].
	Idempotent bool
	// Timeouts counts the attempts so far, this one included, that ended
	// in an error of class [errclass.Timeout].
	Timeouts int
}

// classify fills Class, Phase and Unsent from Response and Err.
func (o *Outcome) classify() {
	o.Class = errclass.ClassifyResponse(o.Response, o.Err)
	if o.Err != nil {
		o.Phase = errclass.PhaseOf(o.Err)
		o.Unsent = errclass.Unsent(o.Err)
	}
}

// DefaultPolicy is the decision used when no [WithPolicy] is given. A custom
// policy can call it and add or remove one rule.
//
// Errors, by class (Outcome.Class):
//   - Canceled, RequestBody (the caller's own body failed), BreakerOpen,
//     Limited, TLS (certificate problems), Protocol, Status and Unknown:
//     never.
//   - DNS: yes, unless the name provably does not exist (IsNotFound).
//   - Refused and Reset: yes.
//   - Timeout in the DNS, connect or TLS handshake phase, or a timeout that
//     never reached the server (Outcome.Unsent): yes, for any method.
//   - Timeout in the total phase: never (the bound over all attempts is spent).
//   - Any other timeout (response header, attempt, ...): once more at most
//     (Timeouts == 1), and only for idempotent requests.
//
// An error is retried for a non-idempotent request only when Outcome.Unsent
// proves the request never reached the server (refused connection, failed
// dial or DNS, refused HTTP/2 stream).
//
// Responses: 408, 429, 502, 503 and 504 are retried for idempotent
// requests; every other status is final.
func DefaultPolicy(o Outcome) bool {
	if o.Err == nil {
		if o.Response == nil {
			return false
		}
		switch o.Response.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return o.Idempotent
		}
		return false
	}
	if o.Class == errclass.OK { // an Outcome not made by a Transport
		o.classify()
	}
	switch o.Class {
	case errclass.DNS:
		var dnsErr *net.DNSError
		if errors.As(o.Err, &dnsErr) && dnsErr.IsNotFound {
			return false
		}
	case errclass.Refused, errclass.Reset:
	case errclass.Timeout:
		switch o.Phase {
		case errclass.PhaseDNS, errclass.PhaseConnect, errclass.PhaseTLSHandshake:
			return true // the request never left: safe for any method
		case errclass.PhaseTotal:
			return false // the bound over every attempt is spent
		default:
			if !o.Unsent {
				return o.Idempotent && o.Timeouts <= 1
			}
		}
	default:
		return false
	}
	return o.Idempotent || o.Unsent
}

// idempotent reports whether r may be sent more than once without harm, by
// the same rule as net/http's own retry of stale connections.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := r.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := r.Header["X-Idempotency-Key"]
	return ok
}

// replayable reports whether every attempt can send r's whole body.
func replayable(r *http.Request) bool {
	return r.Body == nil || r.Body == http.NoBody || r.GetBody != nil
}
