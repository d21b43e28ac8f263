package retry

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Event describes a retry that is about to be sent, for [WithOnRetry].
type Event struct {
	// Request is the caller's request. Read it, never change it.
	Request *http.Request
	// Attempt is the number of the attempt about to start (1 for the
	// first retry), as [Attempt] will report it.
	Attempt int
	// Wait is how long the Transport waited before that attempt, the
	// random extra on top of a Retry-After included.
	Wait time.Duration
	// Reason is why: the [errclass.Class] name of the error ("reset",
	// "timeout", "breaker_open", ...) or the status code of the response
	// ("503").
	Reason string
}

// GiveUpReason says why a [Transport] stopped with a failure. Its values are
// stable lower-case names, fit for logs and metric attributes.
type GiveUpReason string

// The reasons a Transport gives up.
const (
	// GiveUpAttempts: the last attempt that [WithMaxAttempts] allows
	// failed.
	GiveUpAttempts GiveUpReason = "attempts"
	// GiveUpBudget: the [Budget] had no token for another retry.
	GiveUpBudget GiveUpReason = "budget"
	// GiveUpPolicy: the [PolicyFunc] said the outcome is not worth
	// another attempt (a 404, a non-idempotent request after a reset, ...).
	GiveUpPolicy GiveUpReason = "policy"
	// GiveUpNotReplayable: the request's body cannot be sent again (no
	// GetBody, GetBody failed, or a [WithBufferBody] copy is incomplete).
	GiveUpNotReplayable GiveUpReason = "not_replayable"
	// GiveUpRetryAfterCap: the server's Retry-After, or a pause relayed
	// by the layer below, asks for more than [WithRetryAfterCap].
	GiveUpRetryAfterCap GiveUpReason = "retry_after_cap"
	// GiveUpDeadline: the request's deadline leaves no time for the wait
	// and another attempt ([WithMinAttemptTime]), or it passed.
	GiveUpDeadline GiveUpReason = "deadline"
	// GiveUpCanceled: the caller cancelled the request.
	GiveUpCanceled GiveUpReason = "canceled"
	// GiveUpBreakerOpen: a circuit breaker below refused the next attempt
	// (class [errclass.BreakerOpen]); the last real outcome is returned.
	GiveUpBreakerOpen GiveUpReason = "breaker_open"
	// GiveUpLimited: a client-side limiter below shed the next attempt
	// (class [errclass.Limited]); the last real outcome is returned.
	GiveUpLimited GiveUpReason = "limited"
)

// GiveUp describes a request that ended in a failure, for [WithOnGiveUp].
type GiveUp struct {
	// Request is the caller's request. Read it, never change it.
	Request *http.Request
	// Attempts is how many attempts were made, the refused ones included.
	Attempts int
	// Reason is why the Transport stopped.
	Reason GiveUpReason
	// Class is the class of the outcome returned: [errclass.Status] for a
	// response of 400 or more, the error's class otherwise.
	Class errclass.Class
	// StatusCode is the status of the response returned, 0 with an error.
	StatusCode int
	// Err is the error returned, nil with a response.
	Err error
}

// Error is returned when a request fails after more than one attempt: the
// last real attempt's error, or the context's error when it ended during a
// wait. It wraps Err, so errors.Is, errors.As and [errclass.Classify] see
// the cause, and it matches the sentinel of Err's class
// ([errclass.ErrNetwork], [errclass.ErrTimeout], ...).
type Error struct {
	Attempts int          // attempts made, the refused ones included
	Reason   GiveUpReason // why the Transport stopped
	Err      error        // the last error
}

// Error returns "retry: gave up after N attempts (reason): " and Err's text.
func (e *Error) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("retry: gave up after %d attempt%s (%s): %v", e.Attempts, s, e.Reason, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of Err's class (see
// [errclass.Class.Sentinel]).
func (e *Error) Is(target error) bool {
	s := errclass.Classify(e.Err).Sentinel()
	return s != nil && target == s
}

// Timeout reports whether Err is a timeout, so that [url.Error.Timeout]
// keeps working through the retry layer.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}
