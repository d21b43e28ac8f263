package errclass

import (
	"errors"
	"time"
)

// Neutraler is implemented by errors that state whether they say anything
// about the health of the server they were meant for. An error whose Neutral
// method reports true is neither a success nor a failure of the server: a
// circuit breaker does not count it. This module's tlsrotate layer returns
// such errors for certificate trouble it is already repairing by renewing
// connections.
type Neutraler interface {
	Neutral() bool
}

// Neutral reports whether err says nothing about the health of the server:
// its class is [Canceled] (the caller gave up), [RequestBody] (the caller's
// own request body failed), [BreakerOpen] or [Limited] (the call was never
// sent), or the first [Neutraler] in its chain reports true. A nil err is not
// neutral (it is a success).
//
// A caller's own deadline cannot be told from the error alone (it is a
// context.DeadlineExceeded like any other); a layer that holds the request
// checks req.Context().Err() as well.
func Neutral(err error) bool {
	if err == nil {
		return false
	}
	if n, ok := errors.AsType[neutralerError](err); ok {
		return n.Neutral()
	}
	switch Classify(err) {
	case Canceled, RequestBody, BreakerOpen, Limited:
		return true
	}
	return false
}

type neutralerError interface {
	error
	Neutraler
}

// Pauser is implemented by rejections that relay a server's own request to
// wait, such as a breaker that shares a 429 or 503's Retry-After with every
// caller of the host. PausedFor returns how long is left of the pause, or 0
// when the rejection is not a pause.
type Pauser interface {
	PausedFor() time.Duration
}

// PausedFor returns the time left of the pause that err relays (see
// [Pauser]), or 0 when err is not such a rejection. A retry layer treats a
// positive answer like the Retry-After it came from.
func PausedFor(err error) time.Duration {
	if p, ok := errors.AsType[pauserError](err); ok {
		return max(p.PausedFor(), 0)
	}
	return 0
}

type pauserError interface {
	error
	Pauser
}
