package breaker

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/rtchain/chain/internal/hostkey"
)

// Option configures a [Transport] in [New], [Middleware] and
// [Transport.Update]. Options apply in order; when a setting is given twice,
// the last wins, except the WithOn… hooks, which add up. An Option only
// records its value: an invalid one makes New and Middleware panic and
// Update return an error, each naming the option.
type Option func(*config)

// WithKey sets the function that maps a request to its breaker; requests with
// the same key share a breaker. The default is the request's normalised
// host: the URL's host (Request.Host when the URL has none), lower-cased,
// with the scheme's default port dropped, so "https://API.example:443/" and
// "https://api.example/" share one breaker. The key appears in [OpenError]
// messages and hooks, so it should not carry secrets. A nil f is invalid.
// Changing it through [Transport.Update] leaves the breakers of existing keys
// in place.
func WithKey(f func(*http.Request) string) Option {
	return func(c *config) {
		if f == nil {
			c.fail("WithKey(nil): need a function")
			return
		}
		c.key, c.defaultKey = f, false
	}
}

// WithWindow sets the sliding window of every dimension at once (defaults:
// 60 s for the failure rate, 30 s for latency, 10 s for concurrent failures;
// see [WithFailureWindow], [WithLatencyWindow] and [WithConcurrencyWindow]
// to set one). A window is kept in 10 buckets, so outcomes age out a tenth of
// a window at a time; d must be at least 10 ms. When Update changes a window,
// each breaker folds the counts it holds into its newest bucket, so nothing
// is lost; they age out one new window later.
func WithWindow(d time.Duration) Option {
	return func(c *config) {
		for dm := range dimension(numDims) {
			if !c.setWindow("WithWindow", dm, d) {
				return
			}
		}
	}
}

// WithFailureWindow sets the window over which the failure rate is judged
// (default 60 s; at least 10 ms).
func WithFailureWindow(d time.Duration) Option {
	return func(c *config) { c.setWindow("WithFailureWindow", dimFailure, d) }
}

// WithLatencyWindow sets the window over which P99 latency and slow calls are
// judged (default 30 s; at least 10 ms).
func WithLatencyWindow(d time.Duration) Option {
	return func(c *config) { c.setWindow("WithLatencyWindow", dimLatency, d) }
}

// WithConcurrencyWindow sets the window over which the concurrent failure
// rate is judged (default 10 s; at least 10 ms).
func WithConcurrencyWindow(d time.Duration) Option {
	return func(c *config) { c.setWindow("WithConcurrencyWindow", dimConcurrency, d) }
}

// WithMinRequests sets how many outcomes a dimension's window must hold
// before it is judged (default 20); n must be at least 1. The P99 dimension
// needs at least 100 (or n, if larger), and the concurrent failure rate needs
// n outcomes that overlapped another call.
func WithMinRequests(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Sprintf("WithMinRequests(%d): need at least 1", n))
			return
		}
		c.minRequests = n
	}
}

// WithFailureRate trips the breaker when more than f of the outcomes in the
// failure window are failures: failures > f × outcomes (default 0.05, that
// is a success rate below 95 %). f is in [0, 1]; 0 turns the condition off.
func WithFailureRate(f float64) Option {
	return func(c *config) {
		if c.checkRate("WithFailureRate", f) {
			c.failRate = rateOf(f)
			c.srcFail = fmt.Sprintf("WithFailureRate(%v)", f)
		}
	}
}

// WithSlowCall trips the breaker when more than rate of the outcomes in the
// latency window took longer than d (time to response headers): slow calls >
// rate × outcomes, judged once the window holds MinRequests outcomes. Off by
// default; d = 0 turns it off again. With d > 0, rate must be in [0, 1). A
// half-open circuit closes only if at most rate of its probes were slow.
func WithSlowCall(d time.Duration, rate float64) Option {
	return func(c *config) {
		switch {
		case d < 0:
			c.fail(fmt.Sprintf("WithSlowCall(%v, %v): need a duration of at least 0", d, rate))
		case d > 0 && !(rate >= 0 && rate < 1):
			c.fail(fmt.Sprintf("WithSlowCall(%v, %v): need a rate in [0, 1)", d, rate))
		default:
			c.slowCall, c.slowRate = d, rateOf(rate)
		}
	}
}

// WithP99 trips the breaker when the 99th percentile of latency (time to
// response headers) in the latency window is above d (default 2 s), decided
// exactly: more than 1 % of the window's outcomes took longer than d. It is
// judged only once the window holds at least 100 outcomes (below that, the
// 99th percentile is simply the slowest call). Each outcome is compared with
// the d in force when it ends. d = 0 turns the condition off, in half-open
// state too; d must not be negative.
func WithP99(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail(fmt.Sprintf("WithP99(%v): need at least 0", d))
			return
		}
		c.p99 = d
		c.srcP99 = fmt.Sprintf("WithP99(%v)", d)
	}
}

// WithConcurrentFailureRate trips the breaker when, among the outcomes in the
// concurrency window that overlapped another call to the same key (one was in
// flight while the other was), more than f failed (default 0.15): the shape of
// a burst that fails together. It is judged once the window holds
// MinRequests overlapping outcomes. f is in [0, 1]; 0 turns it off.
func WithConcurrentFailureRate(f float64) Option {
	return func(c *config) {
		if c.checkRate("WithConcurrentFailureRate", f) {
			c.concRate = rateOf(f)
			c.srcConc = fmt.Sprintf("WithConcurrentFailureRate(%v)", f)
		}
	}
}

// WithOpenDuration sets how long an open circuit rejects calls before it turns
// half-open (default 30 s). d must be positive. A duration too long for the
// clock to reach (math.MaxInt64, say) keeps a tripped circuit open until
// [Transport.Reset].
func WithOpenDuration(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail(fmt.Sprintf("WithOpenDuration(%v): need a positive duration", d))
			return
		}
		c.openDuration = d
	}
}

// WithHalfOpenProbes sets how many probes a half-open circuit admits (default
// 5): never more than n at once, and n counted outcomes in all before it
// decides. A probe that ends without an outcome (cancelled by its caller, a
// neutral error, or next panicked) frees its slot for another call. n must be
// at least 1.
func WithHalfOpenProbes(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Sprintf("WithHalfOpenProbes(%d): need at least 1", n))
			return
		}
		c.probes = n
	}
}

// WithProbeDeadline sets how long a half-open probe may take, response body
// included, before it counts as failed and frees its slot (default: the open
// duration). A probe whose caller never reads or closes the response body
// ends this way too. d must be positive.
func WithProbeDeadline(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail(fmt.Sprintf("WithProbeDeadline(%v): need a positive duration", d))
			return
		}
		c.probeDeadline = d
	}
}

// WithRecovery sets the thresholds a half-open circuit must meet to close
// (hysteresis). Over its probes: failures ≤ failureRate × probes (default
// 0.01, a success rate of at least 99 %: with 5 probes, no failure),
// overlapping failures ≤ concurrentFailureRate × probes (default 0.03), and,
// when [WithP99] is on, P99 ≤ p99 (default 800 ms; with fewer than 100
// probes, no probe slower than p99; 0 skips it). Each must be no looser than
// its trip threshold. Without this option, each default recovery threshold
// follows a trip threshold set tighter than it (WithP99(500*time.Millisecond)
// makes the recovery P99 500 ms).
func WithRecovery(failureRate float64, p99 time.Duration, concurrentFailureRate float64) Option {
	return func(c *config) {
		src := fmt.Sprintf("WithRecovery(%v, %v, %v)", failureRate, p99, concurrentFailureRate)
		ok := c.checkRate(src, failureRate)
		ok = c.checkRate(src, concurrentFailureRate) && ok
		if p99 < 0 {
			c.fail(src + ": need a P99 of at least 0")
			ok = false
		}
		if ok {
			c.recWant = &recovery{failRate: rateOf(failureRate), p99: p99, concRate: rateOf(concurrentFailureRate), src: src}
		}
	}
}

// WithFailure replaces the rule that decides whether an outcome is a
// failure: f returning true makes it a failure, false a success. It is
// [WithOutcome] with two of its three outcomes; see there for when f is
// called. A nil f restores the default ([DefaultOutcome]).
func WithFailure(f func(*http.Response, error) bool) Option {
	if f == nil {
		return WithOutcome(nil)
	}
	return WithOutcome(func(resp *http.Response, err error) Outcome {
		if f(resp, err) {
			return Failure
		}
		return Success
	})
}

// WithOutcome replaces the rule that decides what an outcome says about the
// server (default [DefaultOutcome]). f is called with the response when its
// headers arrive, or with the error; when it says Success and the response
// has a body, the outcome waits for the body's end, and f is called again
// with the response and the error if reading the body fails. Errors that say
// nothing about the server (see [errclass.Neutral]) and errors after the
// caller's own context ended are Neutral whatever f says. f must be fast and
// must not read the body. A nil f restores the default.
func WithOutcome(f func(*http.Response, error) Outcome) Option {
	return func(c *config) { c.outcome = f }
}

// WithRetryAfter makes a 429 or 503 response that carries a Retry-After
// header (seconds or an HTTP date) pause its key for the time the server
// asked, at most max: every caller of the host is rejected with an
// [*OpenError] whose Pause is true until then, without counting anything or
// changing the state. 0 turns it off (the default; the standard stack sets
// 60 s); max must not be negative.
func WithRetryAfter(max time.Duration) Option {
	return func(c *config) {
		if max < 0 {
			c.fail(fmt.Sprintf("WithRetryAfter(%v): need at least 0", max))
			return
		}
		c.retryAfterMax = max
	}
}

// WithOnStateChange adds a hook called once per state change of a breaker,
// in order for each key, outside every lock: it may call [Transport.State]
// and [Transport.Counts]. Given several times (or through Update), every hook
// runs, in the order given. It must not block for long: the call that caused
// the change runs it. A nil f is ignored.
func WithOnStateChange(f func(key string, from, to State)) Option {
	return func(c *config) {
		if f != nil {
			c.onState = append(slices.Clip(c.onState), f)
		}
	}
}

// WithOnReject adds a hook called, outside every lock, each time a call is
// rejected (circuit open, half-open with every probe slot busy, or paused).
// Given several times, every hook runs, in order. A nil f is ignored.
func WithOnReject(f func(key string)) Option {
	return func(c *config) {
		if f != nil {
			c.onReject = append(slices.Clip(c.onReject), f)
		}
	}
}

// WithOnEvict adds a hook called, outside every lock, when an idle closed
// breaker is dropped from the registry (see [WithMaxKeys]), so that metric
// series kept per key can be dropped too. Given several times, every hook
// runs, in order. A nil f is ignored.
func WithOnEvict(f func(key string)) Option {
	return func(c *config) {
		if f != nil {
			c.onEvict = append(slices.Clip(c.onEvict), f)
		}
	}
}

// WithClock sets the clock (default: the time package's monotonic clock).
// Every time the breaker uses, latencies included, comes from it; there is no
// background goroutine, so a fake clock drives every transition. It is read
// at construction; Update keeps the original clock. A nil f means the
// default.
func WithClock(f func() time.Time) Option {
	return func(c *config) { c.clock = f }
}

// WithMaxKeys bounds the number of breakers kept (default 1024). When a new key
// would exceed it, the least recently used closed breakers with no call in
// flight and no pause are dropped (a quarter of n at a time); open and
// half-open breakers are never dropped. If none can be dropped, calls for the
// new key go through without a breaker until room is made. Keys opened with
// [Transport.ForceOpen] are kept even past n. n must be at least 1.
func WithMaxKeys(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail(fmt.Sprintf("WithMaxKeys(%d): need at least 1", n))
			return
		}
		c.maxKeys = n
	}
}

// hostKey is the default key.
func hostKey(r *http.Request) string { return hostkey.Of(r) }
