package tlsrotate

import (
	"fmt"
	"time"
)

// Option configures a [Source]. Options are applied in order; giving one
// twice keeps the last value unless its doc says otherwise. What a
// [Transport] does with its connections is set by [TransportOption]s, given
// to [New].
type Option func(*config)

// Defaults of the options.
const (
	DefaultPollInterval = time.Minute
	DefaultDebounce     = 100 * time.Millisecond
	DefaultClockSkew    = 5 * time.Minute
	DefaultLoadTimeout  = 30 * time.Second
)

// MaxMaterialSize is the largest PEM input taken: a file, or a field of
// [Material], of more bytes is rejected with [ReasonTooLarge]. Certificate
// chains and keys are a few KiB; a CA bundle of the whole web PKI is about
// 250 KiB.
const MaxMaterialSize = 1 << 20

// maxWaitFactor bounds a debounce: a burst of file-system events that never
// pauses for the debounce interval still leads to a re-read after
// maxWaitFactor debounce intervals.
const maxWaitFactor = 10

type config struct {
	caFile       string
	issuerFile   string
	name         string
	poll         time.Duration
	debounce     time.Duration
	skew         time.Duration
	loadTimeout  time.Duration
	fsnotify     bool
	startTimeout time.Duration
	now          func() time.Time
	onRotate     []func(Rotation)
	onError      []func(error)
}

func defaults() config {
	return config{
		poll:        DefaultPollInterval,
		debounce:    DefaultDebounce,
		skew:        DefaultClockSkew,
		loadTimeout: DefaultLoadTimeout,
		fsnotify:    true,
		now:         time.Now,
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

// WithName names the source in metrics (the chain.tls.source attribute of
// the standard package). Default: the certificate file's path for
// [NewFileSource], "func" for [NewFuncSource]. name must not be empty.
func WithName(name string) Option {
	if name == "" {
		panic("tlsrotate: WithName(\"\"): need a name")
	}
	return func(c *config) { c.name = name }
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
// event of a burst before it re-reads all files together. A burst that never
// pauses that long (a log file written every few milliseconds in the same
// directory) is cut at ten times d, so it cannot hold a rotation back. It is
// also the wait before a second look at a key that does not match its
// certificate (see [ReasonKeyMismatch]). Default [DefaultDebounce] (100 ms);
// d must be positive.
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
// before expiry, server certificates in [Configure], and by the [Transport]s
// on this source for the expiry margin and the renewal window. nil means the
// default, time.Now.
func WithClock(now func() time.Time) Option {
	if now == nil {
		now = time.Now
	}
	return func(c *config) { c.now = now }
}

// WithLoadTimeout bounds each call of a [NewFuncSource] function: its context
// carries the deadline, and a call that has not returned by then is reported
// as a [*RejectError] with [ReasonTimeout] (through [WithOnError], or from
// [Source.Reload]); the last good material stays. While such a call is still
// running, later reloads fail at once with the same reason rather than pile
// up calls. Default [DefaultLoadTimeout] (30 s); d must be positive. File
// sources ignore it.
func WithLoadTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("tlsrotate: WithLoadTimeout(%v): need a positive duration", d))
	}
	return func(c *config) { c.loadTimeout = d }
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
// (a [*RejectError] for rejected material, or a watcher error) and of the
// reloads a [Transport] asks for when a server rejects the certificate; the
// old material stays in use. Errors of an explicit [Source.Reload] are
// returned instead. Giving it several times adds hooks, called in order,
// outside locks. Like [WithOnRotate] hooks, they must not call
// [Source.Close].
func WithOnError(fn func(error)) Option {
	if fn == nil {
		panic("tlsrotate: WithOnError(nil): need a function")
	}
	return func(c *config) { c.onError = append(c.onError, fn) }
}
