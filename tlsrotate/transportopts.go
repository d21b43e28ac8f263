package tlsrotate

import (
	"fmt"
	"net/http"
	"time"
)

// TransportOption configures a [Transport]: how it retires the connections
// of an older generation and how it reacts to certificate trouble. Options
// are applied in order; giving one twice keeps the last value unless its doc
// says otherwise.
type TransportOption func(*transportConfig)

// Retirement says what a [Transport] does with the connections of a
// generation it no longer sends new requests to (after a rotation, a renewal,
// the expiry margin or the maximum connection age).
type Retirement uint8

const (
	// Graceful (the default) sends new requests over new connections at
	// once, closes idle old connections at once and closes each busy old
	// connection when the last response body that uses it is closed or read
	// to the end, or at the drain timeout, whichever comes first.
	Graceful Retirement = iota
	// Immediate closes every old connection at once, in-flight requests
	// included (what client-go does). Requests in flight may fail.
	Immediate
	// None leaves old connections alone: new requests use new connections,
	// old ones end at the transport's IdleConnTimeout, when their server
	// closes them or at [Transport.CloseIdleConnections]; until then they are
	// counted by [Transport.Stats].
	None
)

// String returns "graceful", "immediate" or "none".
func (r Retirement) String() string {
	switch r {
	case Graceful:
		return "graceful"
	case Immediate:
		return "immediate"
	case None:
		return "none"
	}
	return fmt.Sprintf("Retirement(%d)", uint8(r))
}

// Defaults of the transport options.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultExpiryMargin = 5 * time.Minute
)

type transportConfig struct {
	retirement   Retirement
	drainTimeout time.Duration
	expiryMargin time.Duration
	maxAge       time.Duration
	rejected     func(*http.Response) bool
	onRenew      []func(Renewal)
}

func transportDefaults() transportConfig {
	return transportConfig{
		retirement:   Graceful,
		drainTimeout: DefaultDrainTimeout,
		expiryMargin: DefaultExpiryMargin,
		rejected:     NginxRejection,
	}
}

// WithRetirement sets what the [Transport] does with a generation's
// connections once it sends new requests elsewhere. Default [Graceful].
func WithRetirement(r Retirement) TransportOption {
	if r > None {
		panic(fmt.Sprintf("tlsrotate: WithRetirement(%d): unknown retirement", uint8(r)))
	}
	return func(c *transportConfig) { c.retirement = r }
}

// WithDrainTimeout bounds how long, under [Graceful], a busy old connection
// may live after it was retired: at the timeout it is closed even if a
// response body that uses it is still open. Default [DefaultDrainTimeout]
// (30 s); d must be positive.
func WithDrainTimeout(d time.Duration) TransportOption {
	if d <= 0 {
		panic(fmt.Sprintf("tlsrotate: WithDrainTimeout(%v): need a positive duration", d))
	}
	return func(c *transportConfig) { c.drainTimeout = d }
}

// WithExpiryMargin sets how long before the client certificate's NotAfter
// the [Transport] stops sending requests on connections made with it,
// whatever the retirement: it re-reads the source (a renewed certificate may
// be waiting), moves to new connections (presenting the newer certificate
// if one came, the same one otherwise) and retires the old ones. If the
// margin has already passed when a connection is made, the connection is
// retired at NotAfter itself. So no request is sent on a connection whose
// certificate has expired. Default [DefaultExpiryMargin] (5 minutes); d must
// not be negative.
func WithExpiryMargin(d time.Duration) TransportOption {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithExpiryMargin(%v): must not be negative", d))
	}
	return func(c *transportConfig) { c.expiryMargin = d }
}

// WithMaxConnectionAge makes the [Transport] move to fresh connections every
// d (minus a random jitter of up to a tenth of d, so that a fleet does not
// reconnect at once) even without a rotation, retiring the old ones; under
// [Graceful] no connection lives longer than d plus the drain timeout.
// Useful when servers re-check client certificates only at handshakes, or to
// spread load after servers were added. Default 0: off. d must not be
// negative. A timer per generation closes the idle connections of a
// generation that reaches its age with no request to replace it.
func WithMaxConnectionAge(d time.Duration) TransportOption {
	if d < 0 {
		panic(fmt.Sprintf("tlsrotate: WithMaxConnectionAge(%v): must not be negative", d))
	}
	return func(c *transportConfig) { c.maxAge = d }
}

// WithRejection sets the rule that tells, from a response alone, that the
// server rejected the client certificate after a completed handshake, as
// nginx does. Such a response counts like a rejected handshake toward a
// renewal (see [Transport]); it still reaches the caller as it is, body
// unread, and is never sent again. rule must be fast and must not read the
// body. Default [NginxRejection]; nil restores the default. To take no
// response for a rejection, give a rule that always reports false.
func WithRejection(rule func(*http.Response) bool) TransportOption {
	if rule == nil {
		rule = NginxRejection
	}
	return func(c *transportConfig) { c.rejected = rule }
}

// WithOnRenew adds a hook called after each renewal, from the goroutine of
// the request that caused it (or of the rotation or timer), outside any lock.
// Giving it several times adds hooks, called in order. Hooks must not block
// for long.
func WithOnRenew(fn func(Renewal)) TransportOption {
	if fn == nil {
		panic("tlsrotate: WithOnRenew(nil): need a function")
	}
	return func(c *transportConfig) { c.onRenew = append(c.onRenew, fn) }
}
