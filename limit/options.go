package limit

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rtchain/chain/internal/hostkey"
)

// Option configures a [Transport] in [New] and [Middleware]. Options apply in
// order. An out-of-range value panics when the option is made, with a message
// naming the option.
type Option func(*config)

// config is the resolved configuration of a Transport; it does not change
// after construction.
type config struct {
	fixed    int      // the fixed limit; 0: adaptive
	adaptive Adaptive // defaults filled in; used when fixed == 0
	maxWait  time.Duration
	maxKeys  int
	key      func(*http.Request) string
	onReject []func(key string)
	onChange []func(key string, from, to int)
}

// Defaults, as documented on each option and on [Adaptive].
const (
	defaultMaxKeys   = 1024
	defaultMin       = 1
	defaultMax       = 1000
	defaultInitial   = 20
	defaultTolerance = 1.5
	defaultInterval  = 100 * time.Millisecond
	defaultRelearn   = time.Minute
)

// resolve applies opts over the defaults and fills in the adaptive rule's
// defaults.
func resolve(opts []Option) config {
	c := config{maxKeys: defaultMaxKeys, key: hostkey.Of}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.adaptive = c.adaptive.withDefaults()
	return c
}

// WithMaxInFlight sets a fixed limit: at most n requests per key are in
// flight at once (a bulkhead per host), from the moment one is admitted
// until its response body ends. n must be at least 1. It replaces an earlier
// [WithAdaptive]; given twice, the last wins. Without it (or with a later
// WithAdaptive) the limit is adaptive.
func WithMaxInFlight(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("limit: WithMaxInFlight(%d): need at least 1", n))
	}
	return func(c *config) { c.fixed = n }
}

// WithAdaptive makes the limit of each key adaptive, learned from the time
// to response headers against the key's no-load latency by the rule that
// [Adaptive] describes; zero fields of a take their defaults. This is the
// default: New(next) behaves as New(next, WithAdaptive(Adaptive{})). It
// replaces an earlier [WithMaxInFlight]; given twice, the last wins. Invalid
// fields panic (see [Adaptive]).
func WithAdaptive(a Adaptive) Option {
	a.check()
	return func(c *config) { c.fixed, c.adaptive = 0, a }
}

// WithMaxWait lets a request that finds its key at the limit wait up to d for
// a slot, in arrival order, instead of being rejected at once. The wait also
// ends when the request's context is done; the request then fails with the
// context's error. The default, 0, rejects at once; d must be ≥ 0. Given
// twice, the last wins. The queue is bounded in time only: every waiting
// request is the caller's own goroutine.
func WithMaxWait(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("limit: WithMaxWait(%v): need a duration ≥ 0", d))
	}
	return func(c *config) { c.maxWait = d }
}

// WithKey sets the function that maps a request to its key; requests with the
// same key share a limit. The default is the request's normalised host: URL
// host (Request.Host when the URL has none), lower case, without the scheme's
// default port, the same key as the breaker's. The key appears in errors and
// hooks, so it must not carry secrets. f must not be nil. Given twice, the
// last wins.
func WithKey(f func(*http.Request) string) Option {
	if f == nil {
		panic("limit: WithKey(nil): need a function")
	}
	return func(c *config) { c.key = f }
}

// WithMaxKeys bounds the number of keys the Transport keeps state for
// (default 1024; n ≥ 1). When a new key would exceed it, keys with nothing in
// flight and nobody waiting are dropped, those unused for longest first, and
// with them their learned limit. When every key is busy, requests for a new
// key go through without a limit until one is dropped. Given twice, the last
// wins.
func WithMaxKeys(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("limit: WithMaxKeys(%d): need at least 1", n))
	}
	return func(c *config) { c.maxKeys = n }
}

// WithOnReject adds a hook called with the key each time a request is
// rejected: its key was at the limit and no slot freed within the
// [WithMaxWait] bound. A request whose context ended while it waited is not a
// rejection. Hooks given several times are all called, in order, on the
// rejected request's goroutine, outside every lock; they must return quickly.
// A nil f is ignored. Default: none.
func WithOnReject(f func(key string)) Option {
	return func(c *config) {
		if f != nil {
			c.onReject = append(c.onReject, f)
		}
	}
}

// WithOnLimitChange adds a hook called each time the adaptive limit of a key
// changes, with the old and the new limit (changes of one key are at least a
// sampling interval apart). A fixed limit never changes. Hooks given several
// times are all called, in order, on the goroutine of the request whose
// outcome closed the sampling interval, outside every lock; they must return
// quickly. A nil f is ignored. Default: none.
func WithOnLimitChange(f func(key string, from, to int)) Option {
	return func(c *config) {
		if f != nil {
			c.onChange = append(c.onChange, f)
		}
	}
}

// Settings is the resolved configuration of a [Transport], as
// [Transport.Settings] reports it, for display (a stack's configuration
// dump, a probe's report).
type Settings struct {
	// MaxInFlight is the fixed limit per key; 0 when the limit is adaptive.
	MaxInFlight int
	// Adaptive is the adaptive rule with its defaults filled in; it is not
	// used when MaxInFlight is set.
	Adaptive Adaptive
	// MaxWait is the longest wait for a slot; 0 rejects at once.
	MaxWait time.Duration
	// MaxKeys bounds the number of keys kept.
	MaxKeys int
}
