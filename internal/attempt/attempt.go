// Package attempt carries the attempt number of a request on its context, so
// that layers below retry (timeouts, breaker, tracing) can read it without
// importing the retry package.
package attempt

import "context"

type key struct{}

// With returns a copy of ctx that records n as the attempt number (0 for the
// first attempt, 1 for the first resend, ...).
func With(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, key{}, n)
}

// WithLast is like With, and also records that no attempt can follow this
// one (retry's attempts run out with it), so that a layer below can report
// its failure as final.
func WithLast(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, key{}, ^n) // negative: last
}

// From returns the attempt number recorded on ctx, or 0 when none is.
func From(ctx context.Context) int {
	n, _ := ctx.Value(key{}).(int)
	if n < 0 {
		return ^n
	}
	return n
}

// Last reports whether ctx was marked by WithLast.
func Last(ctx context.Context) bool {
	n, ok := ctx.Value(key{}).(int)
	return ok && n < 0
}

type hedgeKey struct{}

// WithHedge returns a copy of ctx that marks the attempt as a hedge: an
// extra copy of an attempt still in flight, sent by the hedge layer.
func WithHedge(ctx context.Context) context.Context {
	return context.WithValue(ctx, hedgeKey{}, true)
}

// Hedge reports whether ctx was marked by WithHedge.
func Hedge(ctx context.Context) bool {
	h, _ := ctx.Value(hedgeKey{}).(bool)
	return h
}
