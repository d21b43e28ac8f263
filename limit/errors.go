package limit

import (
	"strconv"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Error is returned by [Transport.RoundTrip] when it sheds a request: the
// request's key was at its limit and no slot freed within the [WithMaxWait]
// bound. The request was not sent and its body was closed.
//
// An Error has the class [errclass.Limited]: [errclass.Neutral] reports it
// neutral, so a circuit breaker does not count it, and this module's retry
// layer does not retry it.
type Error struct {
	// Key is the key whose limit was reached: the request's host unless
	// [WithKey] says otherwise.
	Key string
	// Limit is the key's limit when the request was shed.
	Limit int
	// Waited is how long the request waited for a slot: 0 without
	// [WithMaxWait].
	Waited time.Duration
}

// Error returns a lower-case message naming the key, its limit and the
// wait, for example "limit: api.example: limit of 20 in flight reached; not
// sent" or "limit: api.example: limit of 20 in flight reached, no slot
// within 50ms; not sent".
func (e *Error) Error() string {
	s := "limit: " + e.Key + ": limit of " + strconv.Itoa(e.Limit) + " in flight reached"
	if e.Waited > 0 {
		s += ", no slot within " + e.Waited.String()
	}
	return s + "; not sent"
}

// Class returns [errclass.Limited], so that [errclass.Classify] knows the
// error without importing this package.
func (e *Error) Class() errclass.Class { return errclass.Limited }
