package tlsrotate

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/layer"
)

var _ http.RoundTripper = (*Transport)(nil)

// Transport is an http.RoundTripper that presents the [Source]'s client
// certificate, verifies servers against its CA bundle (when it has one),
// moves traffic to new connections when the source rotates, and renews its
// connections when a server rejects the certificate (see the package
// documentation). It is the bottom of a stack: it sends through clones of a
// template *http.Transport, one per generation.
//
// A Transport is safe for concurrent use. It starts no goroutine of its own;
// timers retire generations at their expiry margin or maximum age, and close
// what a drain leaves at the drain timeout.
type Transport struct {
	src      *Source
	template *http.Transport
	cfg      transportConfig
	coord    coordinator

	cur atomic.Pointer[generation] // nil until the first request

	mu   sync.Mutex // serialises the replacement of cur and the making of cleartext; guards seq
	seq  uint64     // the number of the last generation made
	gens sync.Map   // *generation → struct{}: every generation not yet forgotten

	cleartext atomic.Pointer[http.Transport] // requests without TLS; nil until the first

	renewals [numTriggers]atomic.Uint64
	renewing atomic.Int32 // re-reads of the source in progress for a renewal
}

// New returns a Transport that sends requests through clones of template
// (nil means a clone of http.DefaultTransport) with src's client
// certificate. The template itself is never used for a request. Each
// generation is cloned from it when it is made (the first at the first
// request, the next at a rotation or renewal), so changes made to it before
// the first request apply to every connection, as with any *http.Transport;
// changes made later apply from the next generation on.
//
// In each clone, TLSClientConfig (cloned, or created) gets src's
// GetClientCertificate whatever else the template sets, so the client
// certificate is always presented; RootCAs, ServerName, MinVersion and the
// other fields are kept, except that RootCAs is replaced by src's CA bundle
// when src has one, Certificates is cleared, and a ClientSessionCache is
// replaced by a fresh cache per generation so that no session of an old
// certificate is resumed. A custom DialTLSContext on the template is kept,
// but the connections it makes are closed only when idle: do not give New a
// transport prepared by [Configure].
//
// Only requests that use TLS go through the generations: https:// URLs, and
// any URL sent through an https:// proxy. A request that will not use TLS
// (an http:// URL sent directly, or through an http:// or SOCKS proxy)
// carries no certificate, so it goes through one more clone of the template,
// made at the first such request, whose connections no rotation, renewal,
// expiry margin or maximum age retires: its keep-alive connections survive
// rotations. To choose, RoundTrip calls the template's Proxy function for
// each http:// request (net/http calls it again to send it).
// [Transport.CloseIdleConnections] closes that clone's idle connections
// too; [Transport.Stats] and [Transport.LiveConnections] count only the
// connections of the generations.
//
// New panics when src is nil.
func New(template *http.Transport, src *Source, opts ...TransportOption) *Transport {
	if src == nil {
		panic("tlsrotate: New: nil source")
	}
	if template == nil {
		template = http.DefaultTransport.(*http.Transport).Clone()
	}
	cfg := transportDefaults()
	for _, o := range opts {
		o(&cfg)
	}
	t := &Transport{src: src, template: template, cfg: cfg}
	t.coord.init()
	return t
}

// RoundTrip sends req over the newest generation, or, when req will not use
// TLS, over the connections kept for such requests (see [New]). The request
// counts as in flight for that generation until its response body is read
// to the end or closed. A handshake that failed because a certificate was rejected comes
// back as a [*HandshakeError]; other errors are net/http's, matching their
// errclass sentinel. RoundTrip follows the http.RoundTripper contract: it
// does not modify req, and the underlying transport closes req.Body on every
// path.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL != nil && req.URL.Scheme == "http" {
		if rt := t.cleartextPool(); !usesTLS(rt, req) {
			return roundTripCleartext(rt, req)
		}
	}
	g := t.acquire(req.Context())
	resp, err := g.rt.RoundTrip(req)
	resp, err = layer.Checked("tlsrotate", g.rt, req, resp, err)
	if err != nil {
		g.release()
		return nil, t.failed(req, g, err)
	}
	t.answered(req, g, resp)
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
func (t *Transport) acquire(ctx context.Context) *generation {
	for {
		g := t.current(ctx)
		g.inflight.Add(1)
		if !g.retired.Load() {
			return g
		}
		g.release()
	}
}

// current returns the generation new requests go to, retiring the current
// one first when it may no longer take requests.
func (t *Transport) current(ctx context.Context) *generation {
	for {
		g := t.cur.Load()
		if g != nil && !g.retired.Load() {
			trig, ok := t.usable(g)
			if ok {
				return g
			}
			t.retire(ctx, g, Renewal{Trigger: trig})
		}
		if ng := t.next(); ng != nil {
			return ng
		}
	}
}

// usable reports whether g may take new requests, and if not, why.
func (t *Transport) usable(g *generation) (Trigger, bool) {
	if g.snap != t.src.cur.Load() {
		return TriggerRotation, false
	}
	if trig, expired := g.expired(t.src.cfg.now()); expired {
		return trig, false
	}
	return "", true
}

// next returns the current generation if it may take requests, makes a new
// one of the source's current snapshot if the current one is retired, or
// returns nil when the current one must be retired first.
func (t *Transport) next() *generation {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.cur.Load()
	if g != nil && !g.retired.Load() {
		if _, ok := t.usable(g); ok {
			return g
		}
		return nil
	}
	t.seq++
	ng := t.newGeneration(t.src.cur.Load(), t.seq)
	t.gens.Store(ng, struct{}{})
	t.cur.Store(ng)
	ng.arm()
	return ng
}

// retire stops g from taking new requests, closes its connections as the
// retirement says and records r, when g was not retired already. Unless a
// rotation or the maximum age retires g, the source is re-read first: a
// renewed certificate may be waiting. Failures while it is re-read are
// neutral: the generations made meanwhile may carry the old material.
func (t *Transport) retire(ctx context.Context, g *generation, r Renewal) bool {
	if !g.retired.CompareAndSwap(false, true) {
		return false
	}
	if r.Trigger != TriggerRotation && r.Trigger != TriggerMaxAge {
		t.renewing.Add(1)
		t.src.refresh(ctx)
		t.renewing.Add(-1)
	}
	g.close()
	t.renewed(r)
	return true
}

// renewed counts r and runs the renewal hooks.
func (t *Transport) renewed(r Renewal) {
	r.Generation = t.src.cur.Load().Generation
	r.At = t.src.cfg.now()
	t.renewals[r.Trigger.index()].Add(1)
	for _, fn := range t.cfg.onRenew {
		fn(r)
	}
}

func (t *Transport) forget(g *generation) { t.gens.Delete(g) }

// generations returns every generation not yet forgotten.
func (t *Transport) generations() []*generation {
	var gens []*generation
	t.gens.Range(func(k, _ any) bool {
		gens = append(gens, k.(*generation))
		return true
	})
	return gens
}

// CloseIdleConnections closes the idle connections of every generation,
// retired ones included, and those of requests without TLS.
func (t *Transport) CloseIdleConnections() {
	for _, g := range t.generations() {
		g.rt.CloseIdleConnections()
	}
	if rt := t.cleartext.Load(); rt != nil {
		rt.CloseIdleConnections()
	}
}

// Unwrap returns the template given to [New], so that chain.Base reaches
// the *http.Transport a user configures. Requests never go through it; see
// [New] for when changes to it apply.
func (t *Transport) Unwrap() http.RoundTripper { return t.template }

// Source returns the source the transport takes its certificate from.
func (t *Transport) Source() *Source { return t.src }

// LiveConnections returns how many connections this transport has open,
// by the generation of the snapshot they were made with (a gauge for
// dashboards: old generations should drain to zero after a rotation).
// HTTP/2 connections count once however many streams they carry.
// Connections without TLS, which belong to no generation, are not counted.
func (t *Transport) LiveConnections() map[uint64]int {
	m := map[uint64]int{}
	for _, g := range t.generations() {
		if n := g.liveConns(); n > 0 {
			m[g.snap.Generation] += n
		}
	}
	return m
}

// TransportStats is what a [Transport] has done so far, for metrics.
type TransportStats struct {
	// Renewals counts the generations retired, by what retired them.
	Renewals map[Trigger]uint64
	// Connections is the number of open connections of the generations
	// (connections without TLS are not counted); Stale those of them that
	// belong to a retired generation (draining, or kept under [None]).
	Connections, Stale int
}

// Stats returns the transport's counters and gauges. It is safe to call at
// any time; the counts only grow.
func (t *Transport) Stats() TransportStats {
	s := TransportStats{Renewals: make(map[Trigger]uint64, numTriggers)}
	for i, tr := range triggers {
		s.Renewals[tr] = t.renewals[i].Load()
	}
	for _, g := range t.generations() {
		n := g.liveConns()
		s.Connections += n
		if g.retired.Load() {
			s.Stale += n
		}
	}
	return s
}

// failed returns the error to give the caller for err, which g's transport
// returned for req: a [*HandshakeError] when a certificate was rejected in
// the handshake (neutral while a renewal repairs it), else err matching its
// class's sentinel.
func (t *Transport) failed(req *http.Request, g *generation, err error) error {
	if !certFailure(err) {
		return errclass.Wrap(err)
	}
	renewing := t.rejected(req, g, TriggerHandshake)
	return &HandshakeError{Renewing: renewing, Err: err, class: errclass.Classify(err)}
}

// answered notes a response: a success for the coordination, or a
// certificate rejection told by a status (see [WithRejection]).
func (t *Transport) answered(req *http.Request, g *generation, resp *http.Response) {
	if t.cfg.rejected(resp) {
		t.rejected(req, g, TriggerResponse)
		return
	}
	t.coord.succeeded(req, g.seq)
}
