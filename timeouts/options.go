package timeouts

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Default bounds. They suit calls inside one data centre; the package
// documentation says how to widen them for WAN links.
const (
	defaultDNS            = 1 * time.Second
	defaultConnect        = 500 * time.Millisecond
	defaultTLSHandshake   = 2 * time.Second
	defaultResponseHeader = 3 * time.Second
	defaultBodyIdle       = 30 * time.Second
	defaultWriteIdle      = 30 * time.Second
)

// Option configures [NewTransport], [New] and [Middleware]. One []Option
// can be given to all three: NewTransport uses the settings of the phases
// its connections bound (DNS, connect, TLS handshake, response header, the
// dialer and resolver), New and Middleware those of the phases of a round
// trip (response header, body idle, write idle, attempt, the adaptive bounds
// and the hooks). [Total] takes a [TotalOption] instead; [WithOnTimeout] is
// both.
//
// A nil Option is skipped.
type Option interface {
	apply(*config)
}

// optionFunc is an Option made from a function.
type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// adaptive is the configuration of an adaptive idle bound; factor 0 means off.
type adaptive struct {
	factor         float64
	floor, ceiling time.Duration
}

func (a adaptive) on() bool { return a.factor > 0 }

// config is resolved once at construction and never changed afterwards.
type config struct {
	dns, connect, tlsHandshake  time.Duration
	header, bodyIdle            time.Duration
	writeIdle, attempt          time.Duration
	adaptiveBody, adaptiveWrite adaptive
	resolver                    Resolver
	dialer                      *net.Dialer
	onTimeout                   []func(*http.Request, *Error)
}

func newConfig(opts []Option) config {
	c := config{
		dns:          defaultDNS,
		connect:      defaultConnect,
		tlsHandshake: defaultTLSHandshake,
		header:       defaultResponseHeader,
		bodyIdle:     defaultBodyIdle,
		writeIdle:    defaultWriteIdle,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// writeBounded reports whether a write idle bound runs: the static one, or
// an adaptive one (which works without the static one).
func (c *config) writeBounded() bool { return c.writeIdle > 0 || c.adaptiveWrite.on() }

func positive(name string, d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("timeouts: %s(%v): must be positive", name, d))
	}
}

func notNegative(name string, d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("timeouts: %s(%v): must not be negative", name, d))
	}
}

// WithDNS bounds the resolution of the host name by the dialer of
// [NewTransport]. Default 1s; d must be positive, because the transport dials
// with a context detached from the request, so an unbounded lookup could hold
// a connection slot forever. Given twice, the last wins. When it fires the
// error has Phase dns.
func WithDNS(d time.Duration) Option {
	positive("WithDNS", d)
	return optionFunc(func(c *config) { c.dns = d })
}

// WithConnect bounds the TCP connect to each address the host name resolved
// to, in [NewTransport]. The addresses of the first family are tried in turn,
// each with the full bound, and those of the other family are raced against
// them after the dialer's fallback delay (see [WithDialer]). Default 500ms; d
// must be positive (see [WithDNS]). Given twice, the last wins. When it fires
// the error has Phase connect.
func WithConnect(d time.Duration) Option {
	positive("WithConnect", d)
	return optionFunc(func(c *config) { c.connect = d })
}

// WithTLSHandshake bounds the TLS handshake on the connections of
// [NewTransport], from the client's first handshake message to the end of the
// handshake. Default 2s; d must be positive (see [WithDNS]). Given twice, the
// last wins. When it fires the error has Phase tls_handshake. [New] and
// [Middleware] use it only as the Limit of an *Error made from net/http's own
// handshake timeout, when the transport below is not NewTransport's.
func WithTLSHandshake(d time.Duration) Option {
	positive("WithTLSHandshake", d)
	return optionFunc(func(c *config) { c.tlsHandshake = d })
}

// WithResponseHeader bounds the wait for the response header once the
// request has been written, its body included (net/http's
// ResponseHeaderTimeout meaning). Default 3s; 0 turns the bound off; negative
// panics. Given twice, the last wins. When it fires the error has Phase
// response_header.
//
// The bound is enforced in one place per request. [New] and [Middleware]
// enforce it for any next RoundTripper, over HTTP/1 and HTTP/2, and fire it
// at most an eighth of d late (see the package documentation). Under a next
// RoundTripper that does not report net/http/httptrace events (a fake, or a
// custom transport) and for a request without a body, their clock counts
// from the call to RoundTrip, connection set-up included. [NewTransport] used
// alone enforces it on its HTTP/1 connections (see NewTransport for how and
// for what it cannot see); over HTTP/2 it leaves the bound to New or
// Middleware.
func WithResponseHeader(d time.Duration) Option {
	notNegative("WithResponseHeader", d)
	return optionFunc(func(c *config) { c.header = d })
}

// WithBodyIdle bounds the time a Read of the response body may stay blocked
// with no byte arriving. The clock runs only while the caller is inside Read,
// so a slow consumer is never cut, and a stream that keeps delivering bytes
// is never cut however long it runs. Default 30s; 0 turns the static bound
// off (an adaptive bound, when given, still runs: see
// [WithAdaptiveBodyIdle]); negative panics. Given twice, the last wins. When
// it fires the Read fails with Phase body_idle and the exchange is aborted.
func WithBodyIdle(d time.Duration) Option {
	notNegative("WithBodyIdle", d)
	return optionFunc(func(c *config) { c.bodyIdle = d })
}

// WithWriteIdle bounds the time the transport may go without taking a byte
// of the request body while uploading: the clock starts each time the
// transport's Read of the body returns and stops when it calls Read again, so
// time spent producing the body and the wait before the first Read (Expect:
// 100-continue) do not count. Default 30s; 0 turns the static bound off (an
// adaptive bound, when given, still runs: see [WithAdaptiveWriteIdle]);
// negative panics. Given twice, the last wins. When it fires the error has
// Phase write_idle.
//
// The transport takes bytes as fast as the connection accepts them. On the
// connections of [NewTransport] on Linux and macOS the kernel accepts bytes
// only as earlier ones leave (TCP_NOTSENT_LOWAT, 16 KiB), so an upload that
// keeps moving on the wire, however slowly, keeps the clock from running out,
// and one that makes no progress is cut. Elsewhere, and on other transports,
// the kernel may buffer megabytes and then wake the writer only when a third
// of its buffer is free: on a slow link a step of progress can then take
// longer than a short bound. [NewTransport] also sets this bound (or the
// default when it is 0) as the HTTP/2 WriteByteTimeout of the connection.
func WithWriteIdle(d time.Duration) Option {
	notNegative("WithWriteIdle", d)
	return optionFunc(func(c *config) { c.writeIdle = d })
}

// WithAttempt bounds one attempt from the call to RoundTrip to the end of the
// response body, header and body together. Default none (0); negative panics.
// Given twice, the last wins. Under [Total] an attempt gets the smaller of
// this bound and the time left. When it fires the error has Phase attempt.
func WithAttempt(d time.Duration) Option {
	notNegative("WithAttempt", d)
	return optionFunc(func(c *config) { c.attempt = d })
}

func checkAdaptive(name string, f float64, floor, ceiling time.Duration) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 1 {
		panic(fmt.Sprintf("timeouts: %s(%v, %v, %v): factor must be a finite number of at least 1", name, f, floor, ceiling))
	}
	if floor <= 0 || ceiling < floor {
		panic(fmt.Sprintf("timeouts: %s(%v, %v, %v): need 0 < floor <= ceiling", name, f, floor, ceiling))
	}
}

// WithAdaptiveBodyIdle makes the body idle bound follow the stream. It
// learns from the gaps of the stream: a gap is a Read that waited at least
// max(1ms, floor/10) for data (a Read served from data already buffered
// waits next to nothing and is not a gap). The bound of each Read is:
//
//   - from the 3rd gap on: the 95th percentile of the last 32 gaps times f;
//   - before (cold start): the static [WithBodyIdle] bound, or 5s when the
//     first gap already lasted 2s or more (one long sample is not trusted
//     either way);
//
// always clamped to [floor, ceiling]. A static bound of 0 counts as no bound
// and is clamped to the ceiling, so the adaptive bound also works on its own.
// For example, with WithAdaptiveBodyIdle(1.8, 200ms, 10s) a stream that
// sends a burst every 700ms runs under 10s until its 3rd gap and under 1.26s
// from then on.
//
// Default off. f must be finite and at least 1, and 0 < floor <= ceiling;
// anything else panics. Given twice, the last wins.
func WithAdaptiveBodyIdle(f float64, floor, ceiling time.Duration) Option {
	checkAdaptive("WithAdaptiveBodyIdle", f, floor, ceiling)
	return optionFunc(func(c *config) { c.adaptiveBody = adaptive{f, floor, ceiling} })
}

// WithAdaptiveWriteIdle makes the write idle bound follow the upload. It
// learns from the gaps of the upload: a gap is a wait of the request body for
// the transport's next Read (see [WithWriteIdle]) of at least max(1ms,
// floor/10). The bound after each Read is:
//
//   - from the 3rd gap on: the weighted mean of the last 3 gaps, with weights
//     0.2, 0.3 and 0.5 from the oldest to the newest, times f;
//   - before (cold start): the static [WithWriteIdle] bound;
//
// always clamped to [floor, ceiling]. A static bound of 0 counts as no bound
// and is clamped to the ceiling, so the adaptive bound also works on its own.
// The rule of the design this package follows multiplies by 3: that is
// WithAdaptiveWriteIdle(3, floor, ceiling).
//
// Default off. f must be finite and at least 1, and 0 < floor <= ceiling;
// anything else panics. Given twice, the last wins.
func WithAdaptiveWriteIdle(f float64, floor, ceiling time.Duration) Option {
	checkAdaptive("WithAdaptiveWriteIdle", f, floor, ceiling)
	return optionFunc(func(c *config) { c.adaptiveWrite = adaptive{f, floor, ceiling} })
}

// Resolver looks up the addresses of a host name for the dialer of
// [NewTransport]; *net.Resolver is one. network is "ip", "ip4" or "ip6". It
// must be safe for concurrent use.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// WithResolver makes the dialer of [NewTransport] resolve names with r. The
// default (nil) is the Resolver of the [WithDialer] dialer, or
// net.DefaultResolver. Given twice, the last wins.
func WithResolver(r Resolver) Option {
	return optionFunc(func(c *config) { c.resolver = r })
}

// WithDialer makes [NewTransport] connect with a copy of d, so that its
// Control or ControlContext, LocalAddr, KeepAlive, KeepAliveConfig,
// MultipathTCP and FallbackDelay apply. Its Timeout and Deadline are not
// used ([WithConnect] bounds each connect and [WithDNS] the lookup), and its
// Resolver is used only when [WithResolver] is not given. FallbackDelay is
// the delay before the addresses of the second family are raced against
// those of the first (Happy Eyeballs, as net.Dialer does): 0 means 300ms,
// negative turns the race off. The default (nil) is a Dialer with KeepAlive
// 30s, as http.DefaultTransport's. Given twice, the last wins; d is copied
// at construction.
func WithDialer(d *net.Dialer) Option {
	var cp *net.Dialer
	if d != nil {
		c := *d
		cp = &c
	}
	return optionFunc(func(c *config) { c.dialer = cp })
}

// Hook is the option made by [WithOnTimeout]. It is both an [Option] and a
// [TotalOption], so the same hook can be given to New, Middleware and Total.
type Hook struct {
	f func(*http.Request, *Error)
}

func (h Hook) apply(c *config) {
	if h.f != nil {
		c.onTimeout = append(c.onTimeout, h.f)
	}
}

func (h Hook) applyTotal(c *totalConfig) {
	if h.f != nil {
		c.onTimeout = append(c.onTimeout, h.f)
	}
}

// WithOnTimeout registers f to be called once for every timeout that [New],
// [Middleware] or [Total] reports to its caller (from RoundTrip or from a
// Read of the response body), with the request as the caller gave it and the
// error. It runs on the goroutine that gets the error, outside every lock of
// this package, and must not block. Default none. Given several times, every
// hook is called, in the order given; a nil f is skipped. The caller's own
// cancellation and deadline are not reported, and neither are the timeouts
// that [NewTransport] reports by itself (it sees connections, not requests).
func WithOnTimeout(f func(req *http.Request, err *Error)) Hook {
	return Hook{f: f}
}

// runHooks calls each hook in order.
func runHooks(hooks []func(*http.Request, *Error), req *http.Request, e *Error) {
	for _, f := range hooks {
		f(req, e)
	}
}
