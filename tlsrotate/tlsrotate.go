// Package tlsrotate keeps an HTTP client's TLS credentials current: a client
// certificate (and optionally the CA bundle that verifies servers) that is
// rotated on disk or by a provider every few hours, with zero failed requests.
//
// # Sources
//
// A [Source] holds the current credentials as an immutable [Snapshot],
// published with an atomic pointer swap. [NewFileSource] reads PEM files and
// watches their directories with fsnotify (atomic renames and Kubernetes
// "..data" symlink swaps are both directory events; directories that the
// files' symlinks resolve to are watched too), debounces bursts (100 ms),
// re-reads all files together, polls as a fallback (every minute) and
// retries with a backoff after a rejection. [NewFuncSource] takes material
// from a function (SPIFFE, Vault), polled or pushed with [Source.Reload].
//
// Every candidate is validated before it is used: strict PEM ([ParseBundle]),
// the key matches the certificate, now is inside the validity window (with a
// clock skew allowance), and the chain verifies, for client use, to the
// issuer bundle when there is one. A rejected candidate leaves the last good
// snapshot in use and is reported as a [*RejectError] whose [Reason] is a
// closed set meant for metrics. [Source.GetClientCertificate] only loads the
// current pointer: no I/O, no lock, no allocation on the handshake path. A
// source never yields an empty certificate: a constructor fails (or waits,
// with [WithStartTimeout]) until it has a valid one.
//
// # Connections
//
// Handshakes after a rotation present the new certificate, but pooled
// keep-alive connections would keep the old one for as long as they live,
// and a tls.Config offers no hook to change the roots of a live client.
// [Transport] (from [New] or [Middleware]) solves both with generations: it
// keeps one clone of the given *http.Transport per snapshot, whose
// tls.Config carries that snapshot's RootCAs and nothing custom (so Go's own
// chain and hostname verification run, and proxies work), and sends every
// new request to the newest generation. Connections are dialed through a
// wrapper that tracks them per generation.
//
// Under the default [Graceful] policy an older generation is retired: its
// idle connections are closed at once; it counts its requests in flight (a
// request is in flight until its response body is read to the end or
// closed), and when the count reaches zero every connection it dialed is
// closed, on HTTP/1.1 and HTTP/2 alike; at the drain timeout (30 s) whatever
// is left is closed anyway. So no request fails, and the first request that
// starts after a swap is published goes over a new connection that presents
// the new certificate. [Immediate] and [None] are the blunt alternatives.
// Whatever the policy, a generation stops taking requests at its
// certificate's NotAfter minus [WithExpiryMargin], so no request is sent on
// a connection whose certificate has expired.
//
// A change of the CA bundle alone is a rotation too: new requests go to new
// connections verified against the new roots, and the old connections
// drain as above (stricter than keeping them, and with nothing to configure;
// there is no separate re-verifying "revoke" mode). A ClientSessionCache on
// the given transport is replaced by a fresh one per generation, so a new
// certificate is never skipped by resuming an old session.
//
// [Configure] is the lighter option for code that must keep its own
// *http.Transport: it sets GetClientCertificate and, with a CA bundle,
// verifies servers itself in VerifyConnection (which also runs on resumed
// sessions) against the current roots and the dialed host, failing closed.
// It cannot retire pooled connections and does not support proxies.
//
// # Observability
//
// [WithOnRotate] hears every swap as a [Rotation] (serials, NotAfter,
// generation; never key material), [WithOnError] every rejection
// ([*RejectError]) and an [*ExpiringError] when a rotation is overdue;
// [Source.ExpiresIn] and [Transport.LiveConnections] feed gauges. A metrics
// layer can count rotations and rejections by reason from these without this
// package importing one. [RenewAt] tells push providers when to renew.
package tlsrotate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/internal/body"
)

var _ http.RoundTripper = (*Transport)(nil)

// Transport is an http.RoundTripper that presents the [Source]'s client
// certificate, verifies servers against its CA bundle (when it has one) and
// moves traffic to new connections when the source rotates, retiring old
// connections by the source's [Policy]. It is safe for concurrent use. It
// starts no goroutine; a drain timer runs only while a generation drains.
type Transport struct {
	src      *Source
	template *http.Transport
	h2       bool

	cur atomic.Pointer[generation]

	mu   sync.Mutex // guards gens and the replacement of cur
	gens map[*generation]struct{}
}

// generation is one clone of the template, tied to one snapshot.
type generation struct {
	t        *Transport
	snap     *Snapshot
	expireAt time.Time // zero: never; see expiry
	rt       *http.Transport
	inflight atomic.Int64 // requests whose response body is still open
	retired  atomic.Bool

	mu     sync.Mutex // guards conns, closed, timer and ageTimer
	conns  map[*trackedConn]struct{}
	closed bool
	timer  *time.Timer // drain timeout
	// ageTimer replaces the generation at its maximum age, requests or not.
	ageTimer *time.Timer
	age      time.Duration // for ageTimer; 0: no maximum age
}

var errRetired = errors.New("tlsrotate: connection generation already retired")

// New returns a Transport that sends requests through clones of next, which
// must be an *http.Transport (nil means http.DefaultTransport). next itself
// is only a template: it is never used for a request and never modified;
// changes to it after New have no effect. Its TLSClientConfig is cloned with
// GetClientCertificate set to src's and, when src has a CA bundle, RootCAs set
// to the current bundle; a ClientSessionCache, if set, is replaced by a fresh
// cache per generation so that no session of the old certificate is resumed.
// A custom DialTLSContext on next is kept, but the connections it makes are
// closed only when idle: do not give New a transport prepared by [Configure].
// New panics when next is not an *http.Transport or src is nil.
func New(next http.RoundTripper, src *Source) *Transport {
	if src == nil {
		panic("tlsrotate: New: nil source")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	ht, ok := next.(*http.Transport)
	if !ok {
		panic(fmt.Sprintf("tlsrotate: New: next must be an *http.Transport, got %T; place tlsrotate innermost", next))
	}
	h2 := h2Enabled(ht) // before Clone, which runs ht's lazy HTTP/2 set-up
	t := &Transport{
		src:      src,
		template: ht.Clone(),
		h2:       h2,
		gens:     map[*generation]struct{}{},
	}
	t.mu.Lock() // the age timer may fire (and lock) from here on
	g := t.newGeneration(src.Current())
	t.cur.Store(g)
	t.gens[g] = struct{}{}
	g.arm()
	t.mu.Unlock()
	src.subscribe(t)
	return t
}

// Middleware returns a function that wraps its argument with [New](next, src),
// for chain.Build. Put it innermost: next must be an *http.Transport.
func Middleware(src *Source) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return New(next, src) }
}

// h2Enabled reports whether HTTP/2 would be attempted by t, before we add a
// TLS config and a dialer (which switch the automatic attempt off).
func h2Enabled(t *http.Transport) bool {
	if t.ForceAttemptHTTP2 || t.TLSNextProto["h2"] != nil {
		return true
	}
	//lint:ignore SA1019 a user's transport may still set the deprecated dialers; net/http honours them
	deprecated := t.Dial != nil || t.DialTLS != nil
	return !deprecated && t.TLSClientConfig == nil && t.DialContext == nil &&
		t.DialTLSContext == nil && t.TLSNextProto == nil
}

func (t *Transport) newGeneration(snap *Snapshot) *generation {
	g := &generation{t: t, snap: snap, conns: map[*trackedConn]struct{}{},
		expireAt: expiry(snap, t.src.cfg.now(), t.src.cfg.expiryMargin)}
	rt := t.template.Clone()
	cfg := rt.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = nil
	cfg.GetClientCertificate = t.src.GetClientCertificate
	//lint:ignore SA1019 a user's transport may still set the deprecated DialTLS; net/http honours it
	if snap.Roots != nil && rt.DialTLSContext == nil && rt.DialTLS == nil {
		cfg.RootCAs = snap.Roots
	}
	if cfg.ClientSessionCache != nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	rt.TLSClientConfig = cfg
	rt.ForceAttemptHTTP2 = t.h2
	if t.h2 {
		// Each generation gets its own HTTP/2 connection pool: an "h2" entry
		// copied from the template (golang.org/x/net/http2's
		// ConfigureTransport puts one there) would share one pool, keyed by
		// address only, between all generations, and a request of the new
		// generation could ride a connection of the old.
		rt.TLSNextProto = nil
	} else {
		// The template's TLS config may offer h2 (net/http adds it when it
		// sets itself up); a generation that cannot speak it must not.
		cfg.NextProtos = slices.DeleteFunc(slices.Clone(cfg.NextProtos), func(p string) bool { return p == "h2" })
	}
	dial := rt.DialContext
	//lint:ignore SA1019 a user's transport may still set the deprecated Dial; wrap it like DialContext
	if dial == nil && rt.Dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	} else if dial == nil {
		//lint:ignore SA1019 see above
		d := rt.Dial
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
		//lint:ignore SA1019 see above
		rt.Dial = nil
	}
	rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return g.track(c)
	}
	// A custom TLS dialer (DialTLSContext, as set by Configure) must return
	// the *tls.Conn itself for HTTP/2 to be negotiated, so its connections
	// cannot be wrapped and are not tracked: a retired generation closes
	// them only when they are idle.
	g.rt = rt
	if age := t.src.cfg.maxAge; age > 0 {
		age -= rand.N(age/10 + 1)
		if at := t.src.cfg.now().Add(age); g.expireAt.IsZero() || at.Before(g.expireAt) {
			g.expireAt = at
		}
		g.age = age
	}
	return g
}

// arm starts the maximum-age timer of g, once g is published.
func (g *generation) arm() {
	if g.age <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ageTimer = time.AfterFunc(g.age, func() {
		if g.t.src.ctx.Err() == nil { // the chain of age timers ends when the Source is closed
			g.t.current()
		}
	})
}

// current returns the generation of the source's current snapshot, making
// it (and retiring the previous one) if the source has rotated.
func (t *Transport) current() *generation {
	snap := t.src.cur.Load()
	g := t.cur.Load()
	if g.snap == snap && !g.expired(t.src.cfg.now()) {
		return g
	}
	t.mu.Lock()
	g = t.cur.Load()
	switch {
	case g.snap.Generation > snap.Generation:
		t.mu.Unlock()
		return g // a newer snapshot was loaded meanwhile
	case g.snap == snap && !g.expired(t.src.cfg.now()):
		t.mu.Unlock()
		return g // someone else replaced it
	}
	ng := t.newGeneration(snap)
	t.cur.Store(ng)
	t.gens[ng] = struct{}{}
	ng.arm()
	if t.src.cfg.policy == None {
		delete(t.gens, g) // left alone, ends with its connections
	}
	t.mu.Unlock()
	g.retire()
	return ng
}

// expired reports whether g's connections carry a certificate within the
// expiry margin of its NotAfter (or past it), so that they must not take
// new requests.
func (g *generation) expired(now time.Time) bool {
	return !g.expireAt.IsZero() && !now.Before(g.expireAt)
}

// expiry returns when a generation made now for snap must stop taking
// requests: the expiry margin before NotAfter; if that has passed, NotAfter
// itself (one last replacement); if that has passed too, never (handshakes
// with this certificate fail at the server anyway; a rotation is overdue).
func expiry(snap *Snapshot, now time.Time, margin time.Duration) time.Time {
	notAfter := snap.Leaf.NotAfter
	// GetClientCertificate may still serve the previous certificate to a
	// server that accepts only its CA (a CA migration), so a connection of
	// this generation may carry it: retire by the earlier of the two.
	if p := snap.previous; p != nil && p.Leaf != nil && now.Before(p.Leaf.NotAfter) && p.Leaf.NotAfter.Before(notAfter) {
		notAfter = p.Leaf.NotAfter
	}
	if at := notAfter.Add(-margin); now.Before(at) {
		return at
	}
	if now.Before(notAfter) {
		return notAfter
	}
	return time.Time{}
}

// LiveConnections returns how many connections this transport has open,
// by the generation of the snapshot they were made with (a gauge for
// dashboards: old generations should drain to zero after a rotation).
// HTTP/2 connections count once however many streams they carry.
func (t *Transport) LiveConnections() map[uint64]int {
	t.mu.Lock()
	gens := make([]*generation, 0, len(t.gens))
	for g := range t.gens {
		gens = append(gens, g)
	}
	t.mu.Unlock()
	m := map[uint64]int{}
	for _, g := range gens {
		g.mu.Lock()
		if n := len(g.conns); n > 0 {
			m[g.snap.Generation] += n
		}
		g.mu.Unlock()
	}
	return m
}

// RoundTrip sends req over the newest generation. The request counts as in
// flight for that generation until its response body is read to the end or
// closed. RoundTrip follows the http.RoundTripper contract: it does not
// modify req, and the underlying transport closes req.Body on every path.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.acquire()
	resp, err := g.rt.RoundTrip(req)
	if err != nil {
		g.release()
		return nil, err
	}
	if resp == nil {
		g.release()
		return nil, errors.New("tlsrotate: transport returned no response and no error")
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		g.release()
		return resp, nil
	}
	resp.Body = body.Wrap(resp.Body, func(error) { g.release() })
	return resp, nil
}

// acquire counts a request in the newest generation. If that generation was
// retired between loading and counting, the count is undone and the next
// newest is taken, so a retired generation never gains a request after its
// drain could have started.
func (t *Transport) acquire() *generation {
	for {
		g := t.current()
		g.inflight.Add(1)
		if !g.retired.Load() {
			return g
		}
		g.release()
	}
}

func (g *generation) release() {
	if g.inflight.Add(-1) == 0 && g.retired.Load() && g.t.src.cfg.policy == Graceful {
		g.closeAll()
	}
}

// retire stops new requests from using g and closes its connections as the
// policy says.
func (g *generation) retire() {
	g.retired.Store(true)
	g.mu.Lock()
	if g.ageTimer != nil {
		g.ageTimer.Stop()
	}
	g.mu.Unlock()
	switch g.t.src.cfg.policy {
	case Immediate:
		g.closeAll()
	case Graceful:
		g.rt.CloseIdleConnections()
		if g.inflight.Load() == 0 {
			g.closeAll()
			return
		}
		g.mu.Lock()
		if !g.closed {
			g.timer = time.AfterFunc(g.t.src.cfg.drainTimeout, g.closeAll)
		}
		g.mu.Unlock()
	}
}

// closeAll closes every connection g dialed and forgets g. Connections dialed
// by g afterwards are closed at once.
func (g *generation) closeAll() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	conns := g.conns
	g.conns = nil
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
	g.rt.CloseIdleConnections()
	for c := range conns {
		c.Conn.Close()
	}
	g.t.mu.Lock()
	delete(g.t.gens, g)
	g.t.mu.Unlock()
}

func (g *generation) track(c net.Conn) (net.Conn, error) {
	tc := &trackedConn{Conn: c, g: g}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		c.Close()
		return nil, errRetired
	}
	g.conns[tc] = struct{}{}
	return tc, nil
}

func (g *generation) untrack(c *trackedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
}

// trackedConn is a dialed connection that leaves its generation's set when
// closed.
type trackedConn struct {
	net.Conn
	g *generation
}

func (c *trackedConn) Close() error {
	c.g.untrack(c)
	return c.Conn.Close()
}

// CloseIdleConnections closes the idle connections of every generation.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	gens := make([]*generation, 0, len(t.gens))
	for g := range t.gens {
		gens = append(gens, g)
	}
	t.mu.Unlock()
	for _, g := range gens {
		g.rt.CloseIdleConnections()
	}
}

// Unwrap returns the *http.Transport of the newest generation, so that
// chain.Base reaches a raw transport. Changing it affects only connections
// made before the next rotation; configure the transport given to [New].
func (t *Transport) Unwrap() http.RoundTripper { return t.cur.Load().rt }

// Configure wires t to src in place, for code that keeps its own
// *http.Transport: t.TLSClientConfig (cloned, or created) gets src's
// GetClientCertificate, so new handshakes present the current certificate.
// Pooled connections keep the certificate they were made with; use [New] to
// retire them on rotation.
//
// When src has a CA bundle, Configure also sets t.DialTLSContext to a dialer
// that verifies each server itself, in VerifyConnection (which also runs on
// resumed sessions), against the roots current at that handshake: the full
// chain, with the intermediates the server sent and ExtKeyUsageServerAuth,
// for the host that was dialed (an IP literal is checked against the
// certificate's IP addresses). It fails closed when there is no host name.
// Requests through a proxy fail in that mode, since the dialer would not see
// the target host; use [New] there. HTTP/2 stays on if t would have used it,
// and t.TLSHandshakeTimeout bounds the handshake.
func Configure(t *http.Transport, src *Source) {
	h2 := h2Enabled(t)
	var cfg *tls.Config
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.Certificates = nil
	cfg.GetClientCertificate = src.GetClientCertificate
	t.TLSClientConfig = cfg
	if src.Current().Roots == nil {
		return
	}
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	fallback := cfg.RootCAs
	userVerify := cfg.VerifyConnection
	hsTimeout := t.TLSHandshakeTimeout
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("tlsrotate: dial %s: %w", addr, err)
		}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := cfg.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		if c.NextProtos == nil && h2 {
			c.NextProtos = []string{"h2", "http/1.1"}
		}
		c.InsecureSkipVerify = true // VerifyConnection below does the full verification
		verify := src.verifyServer(host, fallback)
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verify(cs); err != nil {
				return err
			}
			if userVerify != nil {
				return userVerify(cs)
			}
			return nil
		}
		if hsTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, hsTimeout)
			defer cancel()
		}
		tc := tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
	if h2 {
		t.ForceAttemptHTTP2 = true
	}
	if proxy := t.Proxy; proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if err == nil && u != nil {
				return nil, errors.New("tlsrotate: Configure with a CA bundle does not support proxies; use tlsrotate.New")
			}
			return u, err
		}
	}
}

// verifyServer returns a VerifyConnection function that verifies the server
// against the roots current at the handshake (fallback when the snapshot has
// none) and the dialed host, failing closed.
func (s *Source) verifyServer(host string, fallback *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if host == "" {
			return errors.New("tlsrotate: no host name to verify the server certificate against")
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tlsrotate: server sent no certificate")
		}
		roots := fallback
		if snap := s.cur.Load(); snap.Roots != nil {
			roots = snap.Roots
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: poolOf(cs.PeerCertificates[1:]),
			DNSName:       host,
			CurrentTime:   s.cfg.now(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
}
