package tlsrotate

import (
	"fmt"
	"time"
)

// Option configures a [Source] (and the [Transport]s built on it). Options are
// applied in order; giving one twice keeps the last value unless its doc says
// otherwise.
type Option func(*config)

// Policy says what a [Transport] does with the connections made with the
// previous material when the [Source] rotates.
type Policy uint8

const (
	// Graceful (the default) sends new requests over new connections at
	// once, closes idle old connections at once and closes each busy old
	// connection when the last response body that uses it is closed or read
	// to the end, or at the drain timeout, whichever comes first.
	Graceful Policy = iota
	// Immediate closes every old connection at once, in-flight requests
	// included (what client-go does). Requests in flight may fail.
	Immediate
	// None leaves old connections alone: new requests use new connections,
	// old ones end at the transport's IdleConnTimeout or when their server
	// closes them.
	None
)

// String returns "graceful", "immediate" or "none".
func (p Policy) String() string {
	switch p {
	case Graceful:
		return "graceful"
	case Immediate:
		return "immediate"
	case None:
		return "none"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Defaults of the options.
const (
	DefaultPollInterval = time.Minute
	DefaultDebounce     = 100 * time.Millisecond
	DefaultClockSkew    = 5 * time.Minute
	DefaultDrainTimeout = 30 * time.Second
	DefaultExpiryMargin = time.Minute
)

type config struct {
	caFile       string
	issuerFile   string
	poll         time.Duration
	debounce     time.Duration
	skew         time.Duration
	drainTimeout time.Duration
	expiryMargin time.Duration
	maxAge       time.Duration
	policy       Policy
	fsnotify     bool
	startTimeout time.Duration
	now          func() time.Time
	onRotate     []func(Rotation)
	onError      []func(error)
}

func defaults() config {
	return config{
		poll:         DefaultPollInterval,
		debounce:     DefaultDebounce,
		skew:         DefaultClockSkew,
		drainTimeout: DefaultDrainTimeout,
		expiryMargin: DefaultExpiryMargin,
		policy:       Graceful,
		fsnotify:     true,
		now:          time.Now,
	}
}

// WithCAFile makes the source also read the PEM bundle at path: the roots that
// verify servers (see [Configure] and [New]). The bundle is parsed strictly:
// every PEM block must be a CERTIFICATE that parses, nothing but whitespace may
// follow the last block, and there must be at least one certificate. Unless
// [WithIssuerCAFile] names another bundle, the client certificate must chain
// to this bundle too. Default: no bundle; servers are verified against the
// transport's own RootCAs (the system pool by default).
func WithCAFile(path string) Option {
	if path == "" {
		panic("tlsrotate: WithCAFile(\"\"): need a path")
	}
	return func(c *config) { c.caFile = path }
}

// WithIssuerCAFile names the PEM bundle the client certificate must chain to
// (with ExtKeyUsageClientAuth) before it is used, when that is not the
// bundle of [WithCAFile]. It is watched and parsed like the CA file. Default:
// the [WithCAFile] bundle, or no chain check without one.
func WithIssuerCAFile(path string) Option {
	if path == "" {
		panic("tlsrotate: WithIssuerCAFile(\"\"): need a path")
	}
	return func(c *config) { c.issuerFile = path }
}

// WithPollInterval sets how often the files are re-read and compared by
// content hash, in case file-system events are lost (network file systems,
// exhausted inotify watches). For [NewFuncSource] it is how often the function
// is called. Default [DefaultPollInterval] (1 minute); d must be positive.
func WithPollInterval(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("tlsrotate: WithPollInterval(%v): need a positive interval", d))
	}
	return func(c *config) { c.poll = d }
}

// WithDebounce sets how long the watcher waits after the last file-system
// event of a burst before it re-reads all files together. Default
// [DefaultDebounce] (100 ms); d must be positive.
func WithDebounce(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("tlsrotate: WithDebounce(%v): need a positive duration", d))
	}
	return func(c *config) { c.debounce = d }
}

// WithFSNotify turns file-system notifications on or off. Off, changes are
// found by polling alone. Default on.
func WithFSNotify(enabled bool) Option {
	return func(c *config) { c.fsnotify = enabled }
}

// WithClockSkew sets how far before its NotBefore a certificate is already
// accepted, for clocks that differ between issuer and client. Default
// [DefaultClockSkew] (5 minutes); d must not be negative.
func WithClockSkew(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithClockSkew(%v): must not be negative", d))
	}
	return func(c *config) { c.skew = d }
}

// WithClock sets the clock used to check validity windows, the time left
// before expiry and server certificates in [Configure]. Default time.Now;
// now must not be nil.
func WithClock(now func() time.Time) Option {
	if now == nil {
		panic("tlsrotate: WithClock(nil): need a clock")
	}
	return func(c *config) { c.now = now }
}

// WithPolicy sets what a [Transport] on this source does with old connections
// on rotation. Default [Graceful].
func WithPolicy(p Policy) Option {
	if p > None {
		panic(fmt.Sprintf("tlsrotate: WithPolicy(%d): unknown policy", uint8(p)))
	}
	return func(c *config) { c.policy = p }
}

// WithDrainTimeout bounds how long, under [Graceful], a busy old connection
// may live after a rotation: at the timeout it is closed even if a response
// body that uses it is still open. Default [DefaultDrainTimeout] (30 s); d
// must be positive.
func WithDrainTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("tlsrotate: WithDrainTimeout(%v): need a positive duration", d))
	}
	return func(c *config) { c.drainTimeout = d }
}

// WithExpiryMargin sets how long before the client certificate's NotAfter a
// [Transport] stops sending requests on connections made with it, whatever
// the policy: it moves to new connections (presenting the newer certificate if
// one came, the same one otherwise) and retires the old ones as the policy
// says; if the margin has already passed when a connection is made, the
// connection is retired at NotAfter itself. So no request is sent on a
// connection whose certificate has expired. Default [DefaultExpiryMargin]
// (1 minute); d must not be negative.
func WithExpiryMargin(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithExpiryMargin(%v): must not be negative", d))
	}
	return func(c *config) { c.expiryMargin = d }
}

// WithMaxConnectionAge makes a [Transport] move to fresh connections every d
// (minus a random jitter of up to a tenth of d, so that a fleet does not
// reconnect at once) even without a rotation, retiring the old ones as the
// policy says; under [Graceful] no connection lives longer than d plus the
// drain timeout. Useful when servers re-check client certificates only at
// handshakes, or to spread load after servers were added. Default 0: off.
// d must not be negative. It is the one case where a Transport runs a timer
// with no request in flight: one per Transport, replacing its generation
// every d, traffic or not, until the Source is closed (which also keeps the
// Transport from being collected before then).
func WithMaxConnectionAge(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithMaxConnectionAge(%v): must not be negative", d))
	}
	return func(c *config) { c.maxAge = d }
}

// WithStartTimeout makes the constructor wait up to d for valid material
// (files not written yet, a provider still starting), retrying every
// debounce interval, instead of failing at the first invalid read; a
// function source's context carries the deadline. Default 0: fail fast. d must not be negative.
func WithStartTimeout(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithStartTimeout(%v): must not be negative", d))
	}
	return func(c *config) { c.startTimeout = d }
}

// WithOnRotate adds a hook called after each rotation is published, from the
// goroutine that reloaded, outside any lock. Giving it several times adds
// hooks, called in order. Hooks must not block for long, and must not call
// [Source.Close]: Close waits for the goroutine that runs them.
func WithOnRotate(fn func(Rotation)) Option {
	if fn == nil {
		panic("tlsrotate: WithOnRotate(nil): need a function")
	}
	return func(c *config) { c.onRotate = append(c.onRotate, fn) }
}

// WithOnError adds a hook called with every error of the background reloads
// (a [*RejectError] for rejected material, or a watcher error); the old
// material stays in use. Errors of an explicit [Source.Reload] are returned
// instead. Giving it several times adds hooks, called in order, outside locks.
// Like [WithOnRotate] hooks, they must not call [Source.Close].
func WithOnError(fn func(error)) Option {
	if fn == nil {
		panic("tlsrotate: WithOnError(nil): need a function")
	}
	return func(c *config) { c.onError = append(c.onError, fn) }
}
