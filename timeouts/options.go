package timeouts

import (
	"fmt"
	"math"
	"net"
	"net/http"
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

// Option configures [NewTransport], [New], [Middleware] and [Total]. One
// []Option can be passed to all of them: each constructor uses the options
// that concern it and ignores the others.
type Option func(*config)

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
	resolver                    *net.Resolver
	onTimeout                   func(*http.Request, *Error)
}

// bounded reports whether the middleware has any bound to enforce.
func (c *config) bounded() bool {
	return c.header > 0 || c.bodyIdle > 0 || c.writeIdle > 0 || c.attempt > 0
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
			o(&c)
		}
	}
	return c
}

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
// [NewTransport]. Default 1s; d must be positive, because the
// transport dials with a context detached from the request, so an unbounded
// lookup could hold a connection slot forever. Given twice, the last wins.
// When it fires the error has Phase dns.
func WithDNS(d time.Duration) Option {
	positive("WithDNS", d)
	return func(c *config) { c.dns = d }
}

// WithConnect bounds the TCP connect to each address the host name resolved
// to, in [NewTransport]; the addresses are tried in turn, each with the full
// bound. Default 500ms; d must be positive (see [WithDNS]).
// Given twice, the last wins. When it fires the error has Phase connect.
func WithConnect(d time.Duration) Option {
	positive("WithConnect", d)
	return func(c *config) { c.connect = d }
}

// WithTLSHandshake bounds the TLS handshake of [NewTransport]
// (http.Transport.TLSHandshakeTimeout). Default 2s; d
// must be positive (see [WithDNS]). Given twice, the last wins. The bare
// transport reports it as net/http's own timeout error; [New] and
// [Middleware] above it turn that into an *Error with Phase tls_handshake.
func WithTLSHandshake(d time.Duration) Option {
	positive("WithTLSHandshake", d)
	return func(c *config) { c.tlsHandshake = d }
}

// WithResponseHeader bounds the wait for the response header once the
// request has been written (its body included), as net/http's
// ResponseHeaderTimeout does; [NewTransport] sets that field and [New]
// enforces the bound for any next RoundTripper. Default 3s; 0 turns the
// bound off; negative panics. Given twice, the last wins. When it fires the
// error has Phase response_header.
// The middleware fires it at most an eighth of d late (see the package
// documentation).
//
// Under a next RoundTripper that does not report net/http/httptrace events
// (a fake, or a custom transport) and for a request without a body, the bound
// counts from the call to RoundTrip, connection set-up included.
func WithResponseHeader(d time.Duration) Option {
	notNegative("WithResponseHeader", d)
	return func(c *config) { c.header = d }
}

// WithBodyIdle bounds the time a Read of the response body may stay blocked
// with no byte arriving. The clock runs only while the caller is inside Read,
// so a slow consumer is never cut, and a stream that keeps delivering bytes
// is never cut however long it runs. Default 30s; 0 turns
// the bound off; negative panics. Given twice, the last wins. When it fires
// the Read fails with Phase body_idle and the exchange is aborted.
func WithBodyIdle(d time.Duration) Option {
	notNegative("WithBodyIdle", d)
	return func(c *config) { c.bodyIdle = d }
}

// WithWriteIdle bounds the time the transport may go without taking a byte
// of the request body while uploading: the clock starts each time the
// transport's Read of the body returns and stops when it calls Read again, so
// time spent producing the body and the wait before the first Read (Expect:
// 100-continue) do not count. Default 30s; 0 turns the
// bound off; negative panics. Given twice, the last wins. When it fires the
// error has Phase write_idle. [NewTransport] also uses it as the HTTP/2
// WriteByteTimeout.
func WithWriteIdle(d time.Duration) Option {
	notNegative("WithWriteIdle", d)
	return func(c *config) { c.writeIdle = d }
}

// WithAttempt bounds one attempt from the call to RoundTrip to the end of the
// response body, header and body together. Default none (0); negative panics.
// Given twice, the last wins. Under [Total] an attempt gets the smaller of
// this bound and the time left. When it fires the error has Phase attempt.
func WithAttempt(d time.Duration) Option {
	notNegative("WithAttempt", d)
	return func(c *config) { c.attempt = d }
}

func checkAdaptive(name string, f float64, floor, ceiling time.Duration) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 1 {
		panic(fmt.Sprintf("timeouts: %s(%v, %v, %v): factor must be a finite number of at least 1", name, f, floor, ceiling))
	}
	if floor <= 0 || ceiling < floor {
		panic(fmt.Sprintf("timeouts: %s(%v, %v, %v): need 0 < floor <= ceiling", name, f, floor, ceiling))
	}
}

// WithAdaptiveBodyIdle makes the body idle bound follow the stream: once
// 8 reads have been observed, the bound becomes the 95th
// percentile of the recent read waits (the last 32) times f, clamped to
// [floor, ceiling]; before that the static [WithBodyIdle] bound applies.
// Default off. f must be finite and at least 1, and 0 < floor <= ceiling;
// anything else panics. Given twice, the last wins.
func WithAdaptiveBodyIdle(f float64, floor, ceiling time.Duration) Option {
	checkAdaptive("WithAdaptiveBodyIdle", f, floor, ceiling)
	return func(c *config) { c.adaptiveBody = adaptive{f, floor, ceiling} }
}

// WithAdaptiveWriteIdle makes the write idle bound follow the upload: once
// 8 gaps between the transport's reads of the request body
// have been observed, the bound becomes their exponentially weighted moving
// average (weight 1/4 on the newest gap) times f, clamped to [floor, ceiling];
// before that the static [WithWriteIdle] bound applies. Default off. f must be
// finite and at least 1, and 0 < floor <= ceiling; anything else panics.
// Given twice, the last wins.
func WithAdaptiveWriteIdle(f float64, floor, ceiling time.Duration) Option {
	checkAdaptive("WithAdaptiveWriteIdle", f, floor, ceiling)
	return func(c *config) { c.adaptiveWrite = adaptive{f, floor, ceiling} }
}

// WithResolver makes the dialer of [NewTransport] resolve names with r.
// Default (nil) is net.DefaultResolver. Given twice, the last wins.
func WithResolver(r *net.Resolver) Option {
	return func(c *config) { c.resolver = r }
}

// WithOnTimeout registers f to be called once for every timeout this
// package reports to its caller (from RoundTrip or from a Read of the
// response body), with the request as the caller gave it and the error. It
// runs on the goroutine that gets the error, outside every lock of this
// package, and must not block. Default none. Given twice, the last wins.
// The caller's own cancellation and deadline are not reported.
func WithOnTimeout(f func(req *http.Request, err *Error)) Option {
	return func(c *config) { c.onTimeout = f }
}
