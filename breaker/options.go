package breaker

import (
	"fmt"
	"net/http"
	"time"
)

// Option configures a [Transport] in [New], [Middleware] and
// [Transport.Update]. Options apply in order; when one is given twice, the
// last wins. An out-of-range value panics with a message naming the option.
type Option func(*config)

// config is immutable once published: Update builds a new one and swaps the
// pointer, so a round trip sees one consistent set of thresholds.
type config struct {
	key          func(*http.Request) string
	window       time.Duration
	width        int64 // window / numBuckets, in nanoseconds
	minRequests  int
	failureRate  float64
	slowCall     time.Duration
	slowRate     float64
	p99          time.Duration
	p99Eval      time.Duration // lower edge of p99's histogram bin: outcomes from here on may raise the P99 past p99
	concFailRate float64
	openDuration time.Duration
	probes       int
	recFailRate  float64
	recP99       time.Duration
	recConcFail  float64
	failure      func(*http.Response, error) bool
	onState      func(key string, from, to State)
	onReject     func(key string)
	onEvict      func(key string)
	clock        func() time.Time // nil: the monotonic clock of the time package
	maxKeys      int
}

// Defaults, as documented on each option.
const (
	defaultWindow             = 60 * time.Second
	defaultMinRequests        = 20
	defaultFailureRate        = 0.5
	defaultP99                = 2 * time.Second
	defaultConcurrentFailRate = 0.15
	defaultOpenDuration       = 30 * time.Second
	defaultHalfOpenProbes     = 5
	defaultRecoveryFailRate   = 0.01
	defaultRecoveryP99        = 800 * time.Millisecond
	defaultRecoveryConcFail   = 0.03
	defaultMaxKeys            = 1024
)

func defaultConfig() config {
	return config{
		key:          hostKey,
		window:       defaultWindow,
		minRequests:  defaultMinRequests,
		failureRate:  defaultFailureRate,
		p99:          defaultP99,
		concFailRate: defaultConcurrentFailRate,
		openDuration: defaultOpenDuration,
		probes:       defaultHalfOpenProbes,
		recFailRate:  defaultRecoveryFailRate,
		recP99:       defaultRecoveryP99,
		recConcFail:  defaultRecoveryConcFail,
		maxKeys:      defaultMaxKeys,
	}
}

// build applies opts to a copy of base, checks the result and returns it.
func build(base config, opts []Option) *config {
	c := base
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.failureRate > 0 && c.recFailRate > c.failureRate {
		panic(fmt.Sprintf("breaker: WithRecovery(%v, ...): recovery failure rate above the trip rate %v", c.recFailRate, c.failureRate))
	}
	if c.p99 > 0 && c.recP99 > c.p99 {
		panic(fmt.Sprintf("breaker: WithRecovery(_, %v, _): recovery P99 above the trip P99 %v", c.recP99, c.p99))
	}
	if c.concFailRate > 0 && c.recConcFail > c.concFailRate {
		panic(fmt.Sprintf("breaker: WithRecovery(_, _, %v): recovery concurrent failure rate above the trip rate %v", c.recConcFail, c.concFailRate))
	}
	c.width = int64(c.window) / numBuckets
	c.p99Eval = 0
	if c.p99 > 0 {
		c.p99Eval = binLow(binOf(c.p99))
	}
	return &c
}

func checkRate(opt string, f float64) {
	if !(f >= 0 && f <= 1) {
		panic(fmt.Sprintf("breaker: %s(%v): need a rate in [0, 1]", opt, f))
	}
}

// hostKey is the default key: the request's host (with its port when the URL
// has one). It never contains user information.
func hostKey(r *http.Request) string {
	if r.URL != nil && r.URL.Host != "" {
		return r.URL.Host
	}
	return r.Host
}

// WithKey sets the function that maps a request to its breaker; requests with
// the same key share a breaker. The default is the request's host: URL.Host
// (host and port as written in the URL), or Request.Host when the URL has none.
// The key appears in [OpenError] messages and hooks, so it should not carry
// secrets. A nil f panics. Changing it through [Transport.Update] leaves the
// breakers of existing keys in place.
func WithKey(f func(*http.Request) string) Option {
	if f == nil {
		panic("breaker: WithKey(nil): need a function")
	}
	return func(c *config) { c.key = f }
}

// WithWindow sets the length of the sliding window over which outcomes are
// counted (default 60 s). The window is kept in 10 buckets, so outcomes age out
// a tenth of a window at a time. d must be at least 10 ms. When Update changes
// it, each breaker folds the counts it holds into its newest bucket, so nothing
// is lost; they age out one new window later.
func WithWindow(d time.Duration) Option {
	if d < numBuckets*time.Millisecond {
		panic(fmt.Sprintf("breaker: WithWindow(%v): need at least 10ms", d))
	}
	return func(c *config) { c.window = d }
}

// WithMinRequests sets how many outcomes the window must hold before any trip
// condition is judged (default 20). n must be at least 1. The concurrent
// failure condition also needs n overlapping outcomes (see
// [WithConcurrentFailureRate]).
func WithMinRequests(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("breaker: WithMinRequests(%d): need at least 1", n))
	}
	return func(c *config) { c.minRequests = n }
}

// WithFailureRate trips the breaker when the share of failures in the window
// reaches f (default 0.5). f is in [0, 1]; 0 turns this condition off.
func WithFailureRate(f float64) Option {
	checkRate("WithFailureRate", f)
	return func(c *config) { c.failureRate = f }
}

// WithSlowCall trips the breaker when the share of calls in the window whose
// latency (time to response headers) is at least d reaches rate. Off by
// default; d = 0 turns it off again. With d > 0, rate must be in (0, 1]. In
// half-open state the probes must stay below rate to close the circuit.
func WithSlowCall(d time.Duration, rate float64) Option {
	if d < 0 {
		panic(fmt.Sprintf("breaker: WithSlowCall(%v, %v): need a duration of at least 0", d, rate))
	}
	if d > 0 && !(rate > 0 && rate <= 1) {
		panic(fmt.Sprintf("breaker: WithSlowCall(%v, %v): need a rate in (0, 1]", d, rate))
	}
	return func(c *config) { c.slowCall, c.slowRate = d, rate }
}

// WithP99 trips the breaker when the 99th percentile of latency (time to
// response headers) in the window reaches d (default 2 s). d = 0 turns this
// condition off, in half-open state too. The percentile comes from a
// fixed-bucket histogram (4 bins per power of two from 128 µs to about 67 s,
// linear inside a bin), so it is exact to within about 20 %.
func WithP99(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("breaker: WithP99(%v): need at least 0", d))
	}
	return func(c *config) { c.p99 = d }
}

// WithConcurrentFailureRate trips the breaker when, among the calls in the
// window that overlapped another call to the same key (one was in flight while
// the other was), the share of failures reaches f (default 0.15): the shape of
// a burst that fails together. It is judged once the window holds MinRequests
// outcomes and at least MinRequests of them overlapped. f is in [0, 1]; 0 turns
// it off.
func WithConcurrentFailureRate(f float64) Option {
	checkRate("WithConcurrentFailureRate", f)
	return func(c *config) { c.concFailRate = f }
}

// WithOpenDuration sets how long an open circuit rejects calls before it turns
// half-open (default 30 s). d must be positive.
func WithOpenDuration(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("breaker: WithOpenDuration(%v): need a positive duration", d))
	}
	return func(c *config) { c.openDuration = d }
}

// WithHalfOpenProbes sets how many probes a half-open circuit admits (default
// 5): never more than n at once, and n counted outcomes in all before it
// decides. A probe that ends without an outcome (cancelled by its caller, or
// next panicked) frees its slot for another call. n must be at least 1.
func WithHalfOpenProbes(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("breaker: WithHalfOpenProbes(%d): need at least 1", n))
	}
	return func(c *config) { c.probes = n }
}

// WithRecovery sets the stricter thresholds a half-open circuit must meet to
// close (hysteresis; defaults 0.01, 800 ms, 0.03). Over the probes:
// failures / probes must stay at most failureRate (so with the defaults and
// fewer than 100 probes, one failing probe reopens the circuit at once),
// overlapping failures / probes at most concurrentFailureRate, and, when
// [WithP99] is on, the probes' P99 at most p99 (0 skips it). Each must be no
// looser than its trip threshold, or construction panics.
func WithRecovery(failureRate float64, p99 time.Duration, concurrentFailureRate float64) Option {
	checkRate("WithRecovery", failureRate)
	checkRate("WithRecovery", concurrentFailureRate)
	if p99 < 0 {
		panic(fmt.Sprintf("breaker: WithRecovery(_, %v, _): need a P99 of at least 0", p99))
	}
	return func(c *config) {
		c.recFailRate, c.recP99, c.recConcFail = failureRate, p99, concurrentFailureRate
	}
}

// WithFailure replaces the rule that decides whether an outcome is a failure.
// The default counts an error, a 5xx status and 429 as failures and every other
// response as a success. Calls whose own context was cancelled by the caller,
// and errors of class [errclass.Canceled] or [errclass.BreakerOpen], are never
// counted, whatever f says. f must be fast and must not read the body. A nil f
// restores the default.
func WithFailure(f func(*http.Response, error) bool) Option {
	return func(c *config) { c.failure = f }
}

// WithOnStateChange sets a hook called once per state change of a breaker, in
// order for each key, outside every lock: it may call [Transport.State] and
// [Transport.Counts]. It must not block for long: the call that caused the
// change runs it. Default: none.
func WithOnStateChange(f func(key string, from, to State)) Option {
	return func(c *config) { c.onState = f }
}

// WithOnReject sets a hook called, outside every lock, each time a call is
// rejected (circuit open, or half-open with every probe slot taken). Default:
// none.
func WithOnReject(f func(key string)) Option {
	return func(c *config) { c.onReject = f }
}

// WithOnEvict sets a hook called, outside every lock, when an idle closed
// breaker is dropped from the registry (see [WithMaxKeys]), so that metric
// series kept per key can be dropped too. Default: none.
func WithOnEvict(f func(key string)) Option {
	return func(c *config) { c.onEvict = f }
}

// WithClock sets the clock (default: the time package's monotonic clock). Every time the breaker uses,
// latencies included, comes from it; there is no background goroutine, so a
// fake clock drives every transition. It is read at construction; Update keeps
// the original clock. A nil f means the default.
func WithClock(f func() time.Time) Option {
	return func(c *config) { c.clock = f }
}

// WithMaxKeys bounds the number of breakers kept (default 1024). When a new key
// would exceed it, the least recently used closed breakers with no call in
// flight are dropped (a quarter of n at a time); open and half-open breakers
// are never dropped. If none can be dropped, calls for the new key go through
// without a breaker until room is made. n must be at least 1.
func WithMaxKeys(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("breaker: WithMaxKeys(%d): need at least 1", n))
	}
	return func(c *config) { c.maxKeys = n }
}
