package tlsrotate

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/rtchain/chain/internal/hostkey"
)

// generation is one clone of the template, tied to one snapshot. It takes
// new requests until it is retired; then its connections are closed as the
// transport's retirement says.
type generation struct {
	t    *Transport
	snap *Snapshot
	seq  uint64 // the transport's count of generations, from 1
	rt   *http.Transport
	// certAt is when the certificate's expiry margin begins (zero: never);
	// ageAt when the maximum connection age is reached (zero: no maximum).
	certAt, ageAt time.Time
	inflight      atomic.Int64 // requests whose response body is still open
	retired       atomic.Bool

	mu     sync.Mutex // guards conns, closed and the timers
	conns  map[*trackedConn]struct{}
	closed bool
	drain  *time.Timer // closes what is left at the drain timeout
	expire *time.Timer // retires the generation at certAt or ageAt
	// unwatch stops the wait for the snapshot to be superseded.
	unwatch func() bool
}

var errRetired = errors.New("tlsrotate: connection generation already retired")

// newGeneration makes generation seq for snap from the template as it is now.
func (t *Transport) newGeneration(snap *Snapshot, seq uint64) *generation {
	now := t.src.cfg.now()
	g := &generation{t: t, snap: snap, seq: seq, conns: map[*trackedConn]struct{}{},
		certAt: expiry(snap, now, t.cfg.expiryMargin)}
	if age := t.cfg.maxAge; age > 0 {
		g.ageAt = now.Add(age - rand.N(age/10+1))
	}
	g.rt = t.clone(snap, g.dialer)
	return g
}

// clone returns a copy of the template wired to the source, whose dials go
// through dialer.
func (t *Transport) clone(snap *Snapshot, dialer func(dial dialFunc) dialFunc) *http.Transport {
	h2 := h2Enabled(t.template) // before Clone, which runs the lazy HTTP/2 set-up
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
	rt.ForceAttemptHTTP2 = h2
	if h2 {
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
	if d := rt.Dial; dial == nil && d != nil {
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
		//lint:ignore SA1019 see above
		rt.Dial = nil
	}
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	// A custom TLS dialer (DialTLSContext, as set by Configure) must return
	// the *tls.Conn itself for HTTP/2 to be negotiated, so its connections
	// cannot be wrapped and are not tracked: a retired generation closes
	// them only when they are idle.
	rt.DialContext = dialer(dial)
	return rt
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer wraps dial so that g tracks the connections it makes and the
// transport counts connection attempts per host.
func (g *generation) dialer(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		g.t.coord.dialed(hostkey.Normalize("https", addr), g.t.src.cfg.now())
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return g.track(c)
	}
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

// arm starts what retires g without a request: the end of its snapshot's
// reign and the expiry timer. The callbacks hold g weakly, so that a
// Transport nobody uses can be collected.
func (g *generation) arm() {
	w := weak.Make(g)
	unwatch := context.AfterFunc(g.snap.superseded, func() {
		if g := w.Value(); g != nil {
			g.t.retire(context.Background(), g, Renewal{Trigger: TriggerRotation})
		}
	})
	at, trig := g.deadline()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unwatch = unwatch
	if !at.IsZero() {
		// Just after at, as expired has it.
		g.expire = time.AfterFunc(at.Sub(g.t.src.cfg.now())+time.Nanosecond, func() {
			if g := w.Value(); g != nil {
				g.t.retire(context.Background(), g, Renewal{Trigger: trig})
			}
		})
	}
}

// deadline returns when g stops taking requests, and why.
func (g *generation) deadline() (time.Time, Trigger) {
	switch {
	case g.certAt.IsZero() && g.ageAt.IsZero():
		return time.Time{}, ""
	case g.ageAt.IsZero() || (!g.certAt.IsZero() && !g.ageAt.Before(g.certAt)):
		return g.certAt, TriggerExpiry
	}
	return g.ageAt, TriggerMaxAge
}

// expired reports why g must not take new requests at now: its
// certificate is inside the expiry margin or it reached its maximum age.
func (g *generation) expired(now time.Time) (Trigger, bool) {
	at, trig := g.deadline()
	return trig, !at.IsZero() && now.After(at)
}

// expiry returns the last instant a generation made now for snap may take
// requests: the expiry margin before NotAfter; if that has passed, NotAfter
// itself (one last replacement; a certificate is valid up to and including
// its NotAfter); if that has passed too, never (handshakes with this
// certificate fail at the server anyway; a rotation is overdue).
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
	if !now.After(notAfter) {
		return notAfter
	}
	return time.Time{}
}

func (g *generation) release() {
	if g.inflight.Add(-1) == 0 && g.retired.Load() && g.t.cfg.retirement == Graceful {
		g.closeAll()
	}
}

// stopTimers stops what would retire g later; g is being retired now.
func (g *generation) stopTimers() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unwatch != nil {
		g.unwatch()
	}
	if g.expire != nil {
		g.expire.Stop()
	}
}

// close closes g's connections as the transport's retirement says, once g
// is retired.
func (g *generation) close() {
	g.stopTimers()
	switch g.t.cfg.retirement {
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
			g.drain = time.AfterFunc(g.t.cfg.drainTimeout, g.closeAll)
		}
		g.mu.Unlock()
	case None:
		g.forgetIfEmpty()
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
	if g.drain != nil {
		g.drain.Stop()
	}
	g.mu.Unlock()
	g.rt.CloseIdleConnections()
	for c := range conns {
		c.Conn.Close()
	}
	g.t.forget(g)
}

// forgetIfEmpty forgets a retired g once its last connection has closed
// (under [None], where nothing closes them for it).
func (g *generation) forgetIfEmpty() {
	g.mu.Lock()
	done := g.retired.Load() && len(g.conns) == 0
	g.mu.Unlock()
	if done {
		g.t.forget(g)
	}
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

// liveConns returns how many connections g has open.
func (g *generation) liveConns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// trackedConn is a dialed connection that leaves its generation's set when
// closed.
type trackedConn struct {
	net.Conn
	g *generation
}

func (c *trackedConn) Close() error {
	g := c.g
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	if g.t.cfg.retirement == None {
		g.forgetIfEmpty()
	}
	return c.Conn.Close()
}
