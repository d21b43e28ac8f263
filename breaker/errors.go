package breaker

import (
	"errors"
	"time"

	"github.com/rtchain/chain/errclass"
)

// ErrOpen matches every [*OpenError] through [errors.Is]: the breaker
// rejected the call without sending it.
var ErrOpen = errors.New("breaker: circuit open")

// OpenError is returned by [Transport.RoundTrip] when the breaker for the
// request's key rejects the call: the circuit is open, or half-open with every
// probe slot taken. The request was not sent and its body was closed.
//
// An OpenError matches [ErrOpen] and has the class [errclass.BreakerOpen], so
// this module's retry layer never retries it.
type OpenError struct {
	// Key is the breaker's key: the request's host unless [WithKey] says
	// otherwise.
	Key string
	// RetryIn is the time left before the circuit turns half-open and admits
	// probes again; 0 when it is half-open already and its probe slots are
	// busy.
	RetryIn time.Duration
}

// Error returns a lower-case message naming the key and the time left, for
// example "breaker: circuit open for host api.example:443, retry in 2.5s".
func (e *OpenError) Error() string {
	return "breaker: circuit open for host " + e.Key + ", retry in " + e.RetryIn.String()
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// Class returns [errclass.BreakerOpen], so that [errclass.Classify] knows
// the error without importing this package.
func (e *OpenError) Class() errclass.Class { return errclass.BreakerOpen }
