package timeouts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/rtchain/chain/errclass"
)

const (
	// keepAlive is the TCP keep-alive of the default dialer, as
	// http.DefaultTransport's.
	keepAlive = 30 * time.Second
	// defaultFallback is the Happy Eyeballs delay before the second address
	// family is tried, as net.Dialer's (RFC 6555).
	defaultFallback = 300 * time.Millisecond
)

// dialer resolves and connects with separate bounds, and wraps each
// connection it makes (conn) so that the connection bounds the TLS handshake
// and, on HTTP/1, the response header.
type dialer struct {
	resolver     Resolver
	nd           net.Dialer // template: Timeout and ControlContext are set per dial
	control      func(ctx context.Context, network, address string, c syscall.RawConn) error
	fallback     time.Duration // < 0: no race
	dns, connect time.Duration
	tls, header  time.Duration
	t            *http.Transport // whose HTTP2 settings tell HTTP/2 connections apart
	// raw connects to one address; tests replace it with an in-memory network.
	raw func(ctx context.Context, network, address string) (net.Conn, error)
}

func newDialer(c *config, t *http.Transport) *dialer {
	d := &dialer{dns: c.dns, connect: c.connect, tls: c.tlsHandshake, header: c.header, t: t}
	if c.dialer != nil {
		d.nd = *c.dialer
	} else {
		d.nd.KeepAlive = keepAlive
	}
	d.resolver = c.resolver
	if d.resolver == nil && d.nd.Resolver != nil {
		d.resolver = d.nd.Resolver
	}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	d.fallback = d.nd.FallbackDelay
	if d.fallback == 0 {
		d.fallback = defaultFallback
	}
	d.control = chainControl(d.nd.ControlContext, d.nd.Control)
	d.nd.Resolver, d.nd.Deadline, d.nd.Control = nil, time.Time{}, nil
	d.nd.Timeout = d.connect
	d.nd.ControlContext = d.control
	d.raw = d.nd.DialContext
	return d
}

// chainControl runs the user's socket control function, then sets this
// package's socket options.
func chainControl(cc func(context.Context, string, string, syscall.RawConn) error,
	c func(string, string, syscall.RawConn) error) func(context.Context, string, string, syscall.RawConn) error {
	return func(ctx context.Context, network, address string, rc syscall.RawConn) error {
		var err error
		switch {
		case cc != nil:
			err = cc(ctx, network, address, rc)
		case c != nil:
			err = c(network, address, rc)
		}
		if err != nil {
			return err
		}
		setSocketOptions(rc)
		return nil
	}
}

// DialContext dials network (tcp, tcp4 or tcp6) address host:port.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.dial(ctx, network, address)
	if err != nil {
		return nil, errclass.Wrap(err)
	}
	return d.wrap(c), nil
}

func (d *dialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.lookup(ctx, network, host); err != nil {
		return nil, err
	}
	primaries, fallbacks := partition(network, addrs)
	if len(primaries) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	if len(fallbacks) == 0 || d.fallback < 0 {
		return d.dialSerial(ctx, network, port, append(primaries, fallbacks...))
	}
	return d.dialParallel(ctx, network, port, primaries, fallbacks)
}

// partition keeps the addresses network allows and splits them into those of
// the first address's family and the others, in their order.
func partition(network string, addrs []netip.Addr) (primaries, fallbacks []netip.Addr) {
	for _, ip := range addrs {
		ip = ip.Unmap()
		if (network == "tcp4" && !ip.Is4()) || (network == "tcp6" && ip.Is4()) {
			continue
		}
		if len(primaries) == 0 || ip.Is4() == primaries[0].Is4() {
			primaries = append(primaries, ip)
		} else {
			fallbacks = append(fallbacks, ip)
		}
	}
	return primaries, fallbacks
}

// dialSerial tries addrs in turn, each under the connect bound, and returns
// the first connection or the first error.
func (d *dialer) dialSerial(ctx context.Context, network, port string, addrs []netip.Addr) (net.Conn, error) {
	var first error
	for _, ip := range addrs {
		if err := ctx.Err(); err != nil {
			if first == nil {
				first = &net.OpError{Op: "dial", Net: network, Err: err}
			}
			break
		}
		c, err := d.raw(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if op, ok := errors.AsType[*net.OpError](err); ctx.Err() == nil && ok && op.Timeout() {
			err = &Error{Phase: errclass.PhaseConnect, Limit: d.connect, cause: err}
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

type dialResult struct {
	c       net.Conn
	err     error
	primary bool
}

// dialParallel races the primaries against the fallbacks, which start after
// the fallback delay or as soon as the primaries have all failed. The first
// connection wins; the other race is cancelled, and a connection it still
// makes is closed.
func (d *dialer) dialParallel(ctx context.Context, network, port string, primaries, fallbacks []netip.Addr) (net.Conn, error) {
	returned := make(chan struct{})
	defer close(returned)
	results := make(chan dialResult)
	race := func(ctx context.Context, addrs []netip.Addr, primary bool) {
		c, err := d.dialSerial(ctx, network, port, addrs)
		select {
		case results <- dialResult{c, err, primary}:
		case <-returned:
			if c != nil {
				c.Close()
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go race(ctx, primaries, true)
	timer := time.NewTimer(d.fallback)
	defer timer.Stop()
	var primaryErr, fallbackErr error
	started, pending := false, 1
	startFallback := func() {
		started = true
		pending++
		go race(ctx, fallbacks, false)
	}
	for {
		select {
		case <-timer.C:
			startFallback()
		case r := <-results:
			pending--
			if r.err == nil {
				return r.c, nil
			}
			if r.primary {
				primaryErr = r.err
			} else {
				fallbackErr = r.err
			}
			if !started {
				timer.Stop()
				startFallback()
			}
			if pending == 0 {
				if primaryErr != nil {
					return nil, primaryErr
				}
				return nil, fallbackErr
			}
		}
	}
}

// lookup resolves host under the DNS bound.
func (d *dialer) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	lctx, cancel := context.WithTimeout(ctx, d.dns)
	defer cancel()
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	addrs, err := d.resolver.LookupNetIP(lctx, ipNet, host)
	if err == nil {
		if len(addrs) == 0 {
			err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		} else {
			return addrs, nil
		}
	}
	op := &net.OpError{Op: "dial", Net: network, Err: err}
	if ctx.Err() == nil && lctx.Err() != nil {
		return nil, &Error{Phase: errclass.PhaseDNS, Limit: d.dns, cause: op}
	}
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok && dnsErr.IsTimeout { // the resolver's own timeout
		return nil, &Error{Phase: errclass.PhaseDNS, cause: op}
	}
	return nil, op
}
