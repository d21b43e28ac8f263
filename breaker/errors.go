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
// request's key rejects the call: the circuit is open, half-open with every
// probe slot busy, or the key is paused by a server's Retry-After (see
// [WithRetryAfter]). The request was not sent and its body was closed.
//
// An OpenError matches [ErrOpen] and has the class [errclass.BreakerOpen], so
// this module's retry layer does not retry an outage. A pause is different:
// it implements [errclass.Pauser], and the retry layer waits it out like the
// Retry-After it relays.
type OpenError struct {
	// Key is the breaker's key: the request's normalised host unless
	// [WithKey] says otherwise.
	Key string
	// RetryIn is the time left before the key admits calls again: before an
	// open circuit turns half-open, or before a pause ends. It is 0 when the
	// circuit is half-open with every probe slot busy, or open until
	// [Transport.Reset].
	RetryIn time.Duration
	// Pause reports that the key is paused by a server's Retry-After rather
	// than open: the server asked every caller to wait RetryIn.
	Pause bool
	// ProbesBusy reports that the circuit is half-open and every probe slot
	// is taken.
	ProbesBusy bool
}

// Error returns a lower-case message naming the key and the time left, for
// example "breaker: circuit open for host api.example, retry in 2.5s".
func (e *OpenError) Error() string {
	switch {
	case e.Pause:
		return "breaker: host " + e.Key + " paused by its Retry-After, retry in " + e.RetryIn.String()
	case e.ProbesBusy:
		return "breaker: circuit half-open for host " + e.Key + ", every probe slot busy"
	case e.RetryIn == 0:
		return "breaker: circuit open for host " + e.Key + " until reset"
	}
	return "breaker: circuit open for host " + e.Key + ", retry in " + e.RetryIn.String()
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// Class returns [errclass.BreakerOpen], so that [errclass.Classify] knows
// the error without importing this package.
func (e *OpenError) Class() errclass.Class { return errclass.BreakerOpen }

// PausedFor returns RetryIn when the rejection is a pause, and 0 otherwise
// (see [errclass.Pauser]).
func (e *OpenError) PausedFor() time.Duration {
	if e.Pause {
		return e.RetryIn
	}
	return 0
}
