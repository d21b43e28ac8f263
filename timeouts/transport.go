package timeouts

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Connection-level settings of [NewTransport] that have no option.
const (
	// defaultIdleConn is the IdleConnTimeout of NewTransport: shorter than the
	// 60s idle timeout of common load balancers (AWS ALB, many proxies), so
	// the client closes an idle connection before the server side does and
	// never sends a request on a connection that is being closed under it.
	defaultIdleConn = 55 * time.Second
	// defaultSendPing and defaultPing are the HTTP/2 health check of
	// NewTransport: after 30s with no frame received on a connection, send a
	// ping, and close the connection when no answer comes within 15s. A dead
	// HTTP/2 connection then fails its streams and is replaced instead of
	// holding every request sent on it.
	defaultSendPing = 30 * time.Second
	defaultPing     = 15 * time.Second
)

// NewTransport returns an *http.Transport with the settings of
// [http.DefaultTransport] (proxy from the environment, HTTP/2, connection
// pool sizes), whose connections bound and name every phase of their set-up,
// and the response header on HTTP/1. Every timeout it reports is an *[Error].
//
//   - DialContext resolves the host name under the [WithDNS] bound, then
//     connects under the [WithConnect] bound per address, racing the two
//     address families as net.Dialer does (Happy Eyeballs; see
//     [WithDialer]). Go's own Dialer.Timeout covers resolution and connect
//     together; bounding them apart lets the error say which one ran out:
//     *Error with Phase dns or connect, wrapping the net error (so errors.As
//     to *net.OpError and *net.DNSError still works). A failure that is not a
//     timeout is returned as net.Dialer would, through errclass.Wrap.
//   - Its connections bound the TLS handshake ([WithTLSHandshake]), from the
//     client's first handshake message to the end of the handshake, and fail
//     it with Phase tls_handshake. TLSHandshakeTimeout is left 0: one
//     enforcer per bound.
//   - On HTTP/1 connections (cleartext or TLS) they bound the response header
//     ([WithResponseHeader]): the clock runs from the end of each write of
//     the request until the first byte of the response, and a write stops it.
//     When it runs out, the connection's Read fails with *Error of Phase
//     response_header, and net/http closes the connection and returns the
//     error wrapped in its own (errors.As and errors.Is find the *Error;
//     url.Error.Timeout does not look that deep). ResponseHeaderTimeout is left
//     0. A connection sees bytes, not requests, so there are three things it
//     cannot do as [New] does: a request body whose source pauses for longer
//     than the bound between two writes is cut; net/http resends an
//     idempotent request whose header timed out on a reused connection, on
//     another connection (as it does for every failure of a reused connection
//     before the first response byte); and over HTTP/2, where one connection
//     carries many streams, it does not bound the header at all. Put [New] or
//     [Middleware] above the transport for all three: it bounds the header of
//     every request exactly, and the connections then leave the bound to it.
//   - Its sockets have TCP_NOTSENT_LOWAT set to 16 KiB on Linux and macOS,
//     so that an upload advances as its bytes leave and a write idle bound
//     above sees a slow but moving upload as moving (see [WithWriteIdle]).
//   - IdleConnTimeout is 55s, below the 60s idle timeout of common load
//     balancers. net/http itself resends a request that failed on a stale
//     pooled connection only when the request is replayable (GET, HEAD,
//     OPTIONS, TRACE, or an Idempotency-Key header, with a body it can get
//     again from GetBody).
//   - HTTP2 is set with SendPingTimeout 30s, PingTimeout 15s and
//     WriteByteTimeout the [WithWriteIdle] bound (30s when that is 0), so a
//     dead HTTP/2 connection is found and closed.
//
// The connection is dialed with a context detached from the request (as
// net/http does), which is why the dial and handshake bounds can never be
// zero. The connections it makes are wrappers: httptrace's GotConnInfo.Conn
// (or, over TLS, its NetConn) has a NetConn method that returns the
// connection the dialer made. Change any field of the result before its first use, as with any
// *http.Transport; a DialContext of your own replaces the bounds above, so
// set TLSHandshakeTimeout and ResponseHeaderTimeout with it. Of opts, the
// body idle, write idle (but for WriteByteTimeout), attempt, adaptive and
// hook options are for [New] and do not apply here.
func NewTransport(opts ...Option) *http.Transport {
	c := newConfig(opts)
	return newHTTPTransport(&c, nil)
}

// newHTTPTransport is NewTransport; a non-nil raw replaces the connect step
// of its dialer (an in-memory network, in tests).
func newHTTPTransport(c *config, raw func(context.Context, string, string) (net.Conn, error)) *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			ExpectContinueTimeout: time.Second,
		}
	}
	d := newDialer(c, t)
	if raw != nil {
		d.raw = raw
	}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = 0
	t.ResponseHeaderTimeout = 0
	t.IdleConnTimeout = defaultIdleConn
	wb := c.writeIdle
	if wb == 0 {
		wb = defaultWriteIdle
	}
	t.HTTP2 = &http.HTTP2Config{
		SendPingTimeout:  defaultSendPing,
		PingTimeout:      defaultPing,
		WriteByteTimeout: wb,
	}
	return t
}
