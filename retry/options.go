package retry

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Option configures a [Transport].
type Option func(*config)

// config is the resolved configuration of a Transport.
type config struct {
	maxAttempts   int
	backoff       backoff
	policy        PolicyFunc
	customPolicy  bool // policy is not DefaultPolicy
	retryAfterCap time.Duration
	minAttempt    time.Duration
	nonIdempotent bool
	random        func() float64
	header        string
	bufferBody    int64 // 0: off

	// The budget: one shared Budget, one per key, or none (both nil with
	// budgetSet). Without budgetSet each Transport gets its own per-host
	// KeyedBudget.
	budget    *Budget
	keyed     *KeyedBudget
	budgetKey func(*http.Request) string
	budgetSet bool

	onRetry  []func(Event)
	onGiveUp []func(GiveUp)
}

// Defaults of the options.
const (
	defaultMaxAttempts   = 3
	defaultBase          = 100 * time.Millisecond
	defaultCap           = 10 * time.Second
	defaultRetryAfterCap = 30 * time.Second
	defaultMinAttempt    = 10 * time.Millisecond
)

func resolve(opts []Option) config {
	c := config{
		maxAttempts:   defaultMaxAttempts,
		backoff:       backoff{base: defaultBase, cap: defaultCap, jitter: JitterFull},
		policy:        DefaultPolicy,
		retryAfterCap: defaultRetryAfterCap,
		minAttempt:    defaultMinAttempt,
		random:        rand.Float64,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithMaxAttempts sets how many attempts a request gets in all, the first
// one included: n = 1 disables retries, n = 3 (the default) allows two
// retries. n must be at least 1. Given twice, the last wins.
func WithMaxAttempts(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("retry: WithMaxAttempts(%d): need at least 1", n))
	}
	return func(c *config) { c.maxAttempts = n }
}

// WithBackoff sets the wait between attempts: exponential from base,
// doubling per retry, never above max, randomised by j (see [Jitter]). The
// default is base 100 ms, max 10 s, [JitterFull]. base must be > 0 and max
// ≥ base. Given twice, the last wins. Retry-After, when honoured, replaces
// the backoff.
func WithBackoff(base, max time.Duration, j Jitter) Option {
	switch {
	case base <= 0:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): base must be > 0", base, max, j))
	case max < base:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): max must be ≥ base", base, max, j))
	case j > JitterNone:
		panic(fmt.Sprintf("retry: WithBackoff(%v, %v, %v): unknown jitter", base, max, j))
	}
	return func(c *config) { c.backoff = backoff{base: base, cap: max, jitter: j} }
}

// WithPolicy replaces the decision of which outcomes are worth another
// attempt. The default, and what a nil p means, is [DefaultPolicy]. Given
// twice, the last wins.
func WithPolicy(p PolicyFunc) Option {
	return func(c *config) {
		c.policy, c.customPolicy = p, p != nil
		if p == nil {
			c.policy = DefaultPolicy
		}
	}
}

// WithRetryAfterCap sets the longest Retry-After the Transport honours on
// 429 and 503 responses, and the longest pause it waits out when the layer
// below refuses an attempt during a pause it relays (see
// [errclass.PausedFor]); a longer one ends the loop and the last response is
// returned at once (give-up reason [GiveUpRetryAfterCap]). The default is
// 30 s; d must be ≥ 0 (0 honours only "Retry-After: 0" and dates in the
// past). Given twice, the last wins.
func WithRetryAfterCap(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("retry: WithRetryAfterCap(%v): need a duration ≥ 0", d))
	}
	return func(c *config) { c.retryAfterCap = d }
}

// WithMinAttemptTime sets the least time an attempt needs: a retry is not
// started (nor waited for) when less than d would be left of the request
// context's deadline once the wait is over; the last response or error is
// returned instead, with give-up reason [GiveUpDeadline]. The first attempt
// is always sent: the caller asked for it, and its deadline bounds it. The
// default is 10 ms; d must be ≥ 0 (0 starts a retry whenever the wait ends
// before the deadline). Given twice, the last wins.
func WithMinAttemptTime(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("retry: WithMinAttemptTime(%v): need a duration ≥ 0", d))
	}
	return func(c *config) { c.minAttempt = d }
}

// WithBudget makes the Transport take a token from b for every retry and
// count every request in b, whatever its host: share one Budget between the
// Transports that talk to the same service, or with a hedging layer.
// Without a budget option each Transport keeps its own budget per host (see
// [WithKeyedBudget]); WithBudget(nil) turns the budget off. Given twice, or
// with [WithKeyedBudget], the last wins.
func WithBudget(b *Budget) Option {
	return func(c *config) { c.budget, c.keyed, c.budgetKey, c.budgetSet = b, nil, nil, true }
}

// WithKeyedBudget makes the Transport take the tokens of each request from
// k's budget for key(req), so that one failing host cannot spend the
// retries of the others. A nil key means the request's host, normalised as
// the breaker does (lower case, default port dropped); key must be safe for
// concurrent use. Without a budget option each Transport gets its own
// NewKeyedBudget(1024) keyed by host; share k between Transports to share
// the budgets. A nil k turns the budget off. Given twice, or with
// [WithBudget], the last wins.
func WithKeyedBudget(k *KeyedBudget, key func(*http.Request) string) Option {
	return func(c *config) { c.budget, c.keyed, c.budgetKey, c.budgetSet = nil, k, key, true }
}

// WithNonIdempotent opts in to retrying requests whose method is not
// idempotent (POST, PATCH, ...) and that carry no Idempotency-Key, as if
// they were idempotent. Off by default. Their bodies must still be
// replayable.
func WithNonIdempotent() Option {
	return func(c *config) { c.nonIdempotent = true }
}

// WithOnRetry adds a hook called just before every retry is sent, after its
// wait, on the request's goroutine and outside any lock; it must return
// quickly. A retry that is not sent after all (the context ended during the
// wait) calls no hook. Default none. Given several times, every hook runs,
// in the order given.
func WithOnRetry(f func(Event)) Option {
	return func(c *config) {
		if f != nil {
			c.onRetry = append(c.onRetry[:len(c.onRetry):len(c.onRetry)], f)
		}
	}
}

// WithOnGiveUp adds a hook called once when a request ends in a failure
// (an error, or a status of 400 or more) and the Transport stops: the
// [GiveUp] says why. It runs on the request's goroutine, outside any lock,
// before RoundTrip returns; it must return quickly. A request that ends in
// success calls no hook. Default none. Given several times, every hook
// runs, in the order given.
func WithOnGiveUp(f func(GiveUp)) Option {
	return func(c *config) {
		if f != nil {
			c.onGiveUp = append(c.onGiveUp[:len(c.onGiveUp):len(c.onGiveUp)], f)
		}
	}
}

// WithRandom sets the random source of the jitter: f returns a float in
// [0, 1) and must be safe for concurrent use if the Transport is. The
// default, and what nil means, is math/rand/v2's Float64. Given twice, the
// last wins.
func WithRandom(f func() float64) Option {
	return func(c *config) {
		if f == nil {
			f = rand.Float64
		}
		c.random = f
	}
}

// WithAttemptHeader makes every retry carry a header named name whose value
// is the number of attempts made before it ("1" on the first retry), like
// gRPC's grpc-previous-rpc-attempts, so the server can tell a retry. The
// first attempt carries no such header. Off by default; name must be a
// valid header field name (an RFC 9110 token). Given twice, the last wins.
func WithAttemptHeader(name string) Option {
	if !validHeaderName(name) {
		panic(fmt.Sprintf("retry: WithAttemptHeader(%q): need a valid header name", name))
	}
	name = http.CanonicalHeaderKey(name)
	return func(c *config) { c.header = name }
}

// WithBufferBody lets a request whose body cannot be replayed (Body set,
// GetBody nil) be retried: while the first attempt sends the body, the
// Transport keeps a copy of the bytes sent, up to maxBytes (a tee, not a
// read-ahead: nothing is read before the transport below asks for it). A
// retry then sends the copy, provided the first attempt sent the whole
// body; a longer body, or one the first attempt did not finish sending, is
// sent once, as without this option. The copy is dropped when RoundTrip
// returns. Off by default; maxBytes must be > 0. Given twice, the last
// wins.
func WithBufferBody(maxBytes int64) Option {
	if maxBytes <= 0 {
		panic(fmt.Sprintf("retry: WithBufferBody(%d): need a positive size", maxBytes))
	}
	return func(c *config) { c.bufferBody = maxBytes }
}

// validHeaderName reports whether s is a non-empty RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isSeparator(c):
		default:
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}
