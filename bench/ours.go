package bench

import (
	"net/http"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tracing"
)

// Ours are chain's layers, each alone over the base.
var Ours = []Contender{
	{Name: "chain-retry", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
		return retry.New(base, retryOptions(cfg)...)
	}},
	{Name: "chain-breaker", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
		return breaker.New(base, breakerOptions(cfg)...)
	}},
	{Name: "chain-timeouts", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
		return timeouts.New(base, timeoutOptions(cfg)...)
	}},
	{Name: "chain-requestid", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper {
		return tracing.NewRequestID(base)
	}},
	{Name: "chain-spans-noop", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper {
		return tracing.New(base)
	}},
}

// OursStandard is the standard stack with tracing off (no provider given):
// request id, retry with its budget, breaker, per-attempt timeouts, over
// base.
var OursStandard = Contender{Name: "chain-standard", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
	return standard.New(
		standard.WithBase(base),
		standard.WithRetry(retryOptions(cfg)...),
		standard.WithBreaker(breakerOptions(cfg)...),
		standard.WithTimeouts(timeoutOptions(cfg)...),
	)
}}

// retryOptions maps cfg onto the retry layer: the same attempts and backoff
// as the peers, full jitter; the default budget stays on.
func retryOptions(cfg Config) []retry.Option {
	opts := []retry.Option{retry.WithMaxAttempts(max(cfg.Attempts, 1))}
	if cfg.Backoff > 0 {
		opts = append(opts, retry.WithBackoff(cfg.Backoff, cfg.MaxBackoff, retry.JitterFull))
	}
	return opts
}

// breakerOptions maps cfg onto the breaker: 50% failures over at least
// BreakerMinRequests calls in a 10 s window, open for BreakerOpen.
func breakerOptions(cfg Config) []breaker.Option {
	return []breaker.Option{
		breaker.WithFailureRate(0.5),
		breaker.WithMinRequests(breakerMin(cfg)),
		breaker.WithWindow(10 * time.Second),
		breaker.WithOpenDuration(breakerOpen(cfg)),
	}
}

// timeoutOptions maps cfg's attempt timeout onto our closest knobs: the
// response header bound and the body idle bound.
func timeoutOptions(cfg Config) []timeouts.Option {
	if cfg.AttemptTimeout <= 0 {
		return nil
	}
	return []timeouts.Option{
		timeouts.WithResponseHeader(cfg.AttemptTimeout),
		timeouts.WithBodyIdle(cfg.AttemptTimeout),
	}
}
