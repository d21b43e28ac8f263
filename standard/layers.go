package standard

import (
	"net/http"
	"strconv"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tracing"
)

// Layer names one place in the stack, for WithLayer, WithoutLayer and
// Config. The constants are in the order of the stack, outermost first.
type Layer int

// The layers, outermost first.
const (
	LayerRequestID Layer = iota // tracing.RequestID
	LayerTotal                  // timeouts.Total (off unless WithTotal)
	LayerRetry                  // retry
	LayerHedge                  // hedge (off unless WithHedge)
	LayerLimit                  // limit (off unless WithLimit)
	LayerBreaker                // breaker
	LayerSpans                  // tracing.Spans (off unless a provider or logger is given)
	LayerTimeouts               // timeouts, per attempt
	numLayers
)

var layerNames = [numLayers]string{"request_id", "total", "retry", "hedge", "limit", "breaker", "spans", "timeouts"}

// String returns the layer's name: request_id, total, retry, hedge, limit,
// breaker, spans or timeouts.
func (l Layer) String() string {
	if l < 0 || l >= numLayers {
		return "Layer(" + strconv.Itoa(int(l)) + ")"
	}
	return layerNames[l]
}

// list returns the middlewares of the stack in the order of Layers, each
// nil when its layer is off, with the places set by WithLayer filled in. A
// layer's own middleware makes the Stack's piece when chain.Build applies
// it, so a replaced layer makes none.
func (s *Stack) list() []chain.Middleware {
	mws := [numLayers]chain.Middleware{
		LayerRequestID: s.requestIDLayer,
		LayerTotal:     s.totalLayer(),
		LayerRetry:     s.retryLayer,
		LayerHedge:     s.hedgeLayer(),
		LayerLimit:     s.limitLayer(),
		LayerBreaker:   s.breakerLayer,
		LayerSpans:     s.spansLayer(),
		LayerTimeouts:  s.timeoutsLayer,
	}
	for l, sl := range s.c.slots {
		if sl.set {
			mws[l] = sl.mw
		}
	}
	return mws[:]
}

func (s *Stack) requestIDLayer(next http.RoundTripper) http.RoundTripper {
	return tracing.NewRequestID(next, s.c.telemetry()...)
}

func (s *Stack) totalLayer() chain.Middleware {
	if s.c.total <= 0 {
		return nil
	}
	return timeouts.Total(s.c.total, s.totalHooks()...)
}

func (s *Stack) retryLayer(next http.RoundTripper) http.RoundTripper {
	s.retry = newSwap(&s.c, next, s.newRetry)
	return s.retry
}

// newRetry builds the retry layer over next with the settings of c: the
// stack's budget and hooks first, then the caller's options.
func (s *Stack) newRetry(c *config, next http.RoundTripper) *retry.Transport {
	opts := append([]retry.Option{retry.WithBudget(s.budget)}, s.retryHooks()...)
	return retry.New(next, append(opts, c.retryOpts...)...)
}

func (s *Stack) hedgeLayer() chain.Middleware {
	if !s.c.hedge {
		return nil
	}
	return func(next http.RoundTripper) http.RoundTripper {
		var opts []hedge.Option
		if s.budget != nil {
			opts = append(opts, hedge.WithBudget(s.budget))
		}
		s.hedge = hedge.New(next, append(append(opts, s.hedgeHooks()...), s.c.hedgeOpts...)...)
		return s.hedge
	}
}

func (s *Stack) limitLayer() chain.Middleware {
	if !s.c.limit {
		return nil
	}
	return func(next http.RoundTripper) http.RoundTripper {
		s.limit = limit.New(next, append(s.limitHooks(), s.c.limitOpts...)...)
		observeLimit(s.c.mp, s.limit)
		return s.limit
	}
}

func (s *Stack) breakerLayer(next http.RoundTripper) http.RoundTripper {
	opts := append([]breaker.Option{breaker.WithRetryAfter(DefaultRetryAfter)}, s.breakerHooks()...)
	s.breaker = breaker.New(next, append(opts, s.c.breakerOpts...)...)
	return s.breaker
}

func (s *Stack) spansLayer() chain.Middleware {
	if !s.c.spans() {
		return nil
	}
	return func(next http.RoundTripper) http.RoundTripper { return tracing.New(next, s.c.telemetry()...) }
}

func (s *Stack) timeoutsLayer(next http.RoundTripper) http.RoundTripper {
	s.timeouts = newSwap(&s.c, next, s.newTimeouts)
	return s.timeouts
}

// newTimeouts builds the per-attempt timeouts layer over next with the
// settings of c: the stack's hook first, then its defaults and the caller's
// options.
func (s *Stack) newTimeouts(c *config, next http.RoundTripper) *timeouts.Transport {
	return timeouts.New(next, append(s.timeoutHooks(), c.timeoutOptions()...)...)
}

// spans reports whether the spans layer is on: a provider or a logger was
// given.
func (c *config) spans() bool { return c.tp != nil || c.mp != nil || c.logger != nil }

// on reports whether the stack builds its own layer l: l is on and WithLayer
// did not set its place.
func (c *config) on(l Layer) bool {
	if c.slots[l].set {
		return false
	}
	switch l {
	case LayerTotal:
		return c.total > 0
	case LayerHedge:
		return c.hedge
	case LayerLimit:
		return c.limit
	case LayerSpans:
		return c.spans()
	}
	return true
}
