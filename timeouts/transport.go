package timeouts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/rtchain/chain/errclass"
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
	keepAlive       = 30 * time.Second // TCP keep-alive, as http.DefaultTransport
)

// NewTransport returns an *http.Transport with the settings of
// [http.DefaultTransport] (proxy from the environment, HTTP/2, connection
// pool sizes), tuned so that every phase of getting a connection is bounded
// and named:
//
//   - DialContext resolves the host name under the [WithDNS] bound, then
//     dials each address in turn under the [WithConnect] bound. Go's own
//     Dialer.Timeout covers both together; bounding them apart lets the error
//     say which one ran out: *Error with Phase dns or connect, wrapping the
//     net error (so errors.As to *net.OpError and *net.DNSError still works).
//     A failure that is not a timeout is returned as net.Dialer would.
//   - TLSHandshakeTimeout is the [WithTLSHandshake] bound and
//     ResponseHeaderTimeout the [WithResponseHeader] bound. net/http reports
//     these two with its own errors; [New] or [Middleware] above the
//     transport turns them into *Error with Phase tls_handshake or
//     response_header.
//   - IdleConnTimeout is 55s, below the 60s idle timeout
//     of common load balancers. net/http itself resends a request that
//     failed on a stale pooled connection only when the request is
//     replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key header,
//     with a body it can get again from GetBody).
//   - HTTP2 is set with SendPingTimeout 30s,
//     PingTimeout 15s and WriteByteTimeout the
//     [WithWriteIdle] bound, so a dead HTTP/2 connection is found and closed.
//
// The connection is dialed with a context detached from the request (as
// net/http does), which is why the dial and handshake bounds can never be
// zero. Change any field of the result before its first use, as with any
// *http.Transport.
func NewTransport(opts ...Option) *http.Transport {
	c := newConfig(opts)
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
	d := &dialer{resolver: c.resolver, dns: c.dns, connect: c.connect}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = c.tlsHandshake
	t.ResponseHeaderTimeout = c.header
	t.IdleConnTimeout = defaultIdleConn
	t.HTTP2 = &http.HTTP2Config{
		SendPingTimeout:  defaultSendPing,
		PingTimeout:      defaultPing,
		WriteByteTimeout: c.writeIdle,
	}
	return t
}

// dialer resolves and connects with separate bounds.
type dialer struct {
	resolver     *net.Resolver
	dns, connect time.Duration
}

// DialContext dials network (tcp, tcp4 or tcp6) address host:port.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if addrs, err = d.lookup(ctx, network, host); err != nil {
			return nil, err
		}
	}
	var first error
	for _, ip := range addrs {
		if (network == "tcp4" && !ip.Unmap().Is4()) || (network == "tcp6" && ip.Unmap().Is4()) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		nd := net.Dialer{Timeout: d.connect, KeepAlive: keepAlive}
		conn, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		var op *net.OpError
		if ctx.Err() == nil && errors.As(err, &op) && op.Timeout() {
			err = &Error{Phase: errclass.PhaseConnect, Limit: d.connect, cause: err}
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		if err := ctx.Err(); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		first = &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	return nil, first
}

func (d *dialer) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r := d.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, d.dns)
	defer cancel()
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	addrs, err := r.LookupNetIP(lctx, ipNet, host)
	if err == nil {
		return addrs, nil
	}
	op := &net.OpError{Op: "dial", Net: network, Err: err}
	var dnsErr *net.DNSError
	if ctx.Err() == nil && lctx.Err() != nil {
		return nil, &Error{Phase: errclass.PhaseDNS, Limit: d.dns, cause: op}
	}
	if errors.As(err, &dnsErr) && dnsErr.IsTimeout { // the resolver's own timeout
		return nil, &Error{Phase: errclass.PhaseDNS, cause: op}
	}
	return nil, op
}
