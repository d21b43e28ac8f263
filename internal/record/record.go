// Package record carries the record of one logical request (every attempt
// and wait it takes, as the caller sees one call) on its context, from the
// outermost layer that starts it to the layers below that fill it in: the
// retry layer counts attempts and says why it gave up, so that one summary
// can be logged for the whole request.
package record

import (
	"context"
	"sync"
	"sync/atomic"
)

// Record is the record of one logical request. It is safe for concurrent
// use: hedged attempts may report at the same time.
type Record struct {
	attempts atomic.Int32

	mu     sync.Mutex // guards reason
	reason string
}

type key struct{}

// With returns a copy of ctx that carries r.
func With(ctx context.Context, r *Record) context.Context {
	return context.WithValue(ctx, key{}, r)
}

// IsKey reports whether k is the key under which [With] stores a Record. A
// layer that implements context.Context itself, to carry a Record without
// With's allocation, answers Value(k) with its *Record for such a k.
func IsKey(k any) bool {
	_, ok := k.(key)
	return ok
}

// From returns the record on ctx, or nil when no outer layer started one.
// Every method of a nil *Record does nothing (and reads zero), so a layer
// can call From(ctx).Attempt() without a check.
func From(ctx context.Context) *Record {
	r, _ := ctx.Value(key{}).(*Record)
	return r
}

// Attempt counts one attempt sent (a first attempt, a retry or a hedge).
func (r *Record) Attempt() {
	if r != nil {
		r.attempts.Add(1)
	}
}

// Attempts returns the number of attempts counted so far.
func (r *Record) Attempts() int {
	if r == nil {
		return 0
	}
	return int(r.attempts.Load())
}

// GiveUp records why the request was not tried again (the retry layer's
// give-up reason, such as "attempts" or "budget"); the last call wins.
func (r *Record) GiveUp(reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.reason = reason
	r.mu.Unlock()
}

// Reason returns the give-up reason recorded, or "".
func (r *Record) Reason() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}
