package tlsrotate

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/hostkey"
)

// The renewal rule: a host's certificate failures start a renewal when
// renewStreak of them come in a row, or when more than renewShare of its
// connection attempts in the last renewWindow failed that way.
const (
	renewStreak  = 3
	renewShare   = 0.15
	renewWindow  = 10 * time.Second
	maxRenewKeys = 1024
)

// Trigger says what made a [Transport] retire a generation and move to new
// connections. Its values are a closed, low-cardinality set meant for metric
// attributes.
type Trigger string

// The triggers a [Renewal] carries.
const (
	TriggerRotation  Trigger = "rotation"  // the source published new material
	TriggerHandshake Trigger = "handshake" // handshakes failed on a certificate (see [HandshakeError])
	TriggerResponse  Trigger = "response"  // responses said the certificate was rejected (see [WithRejection])
	TriggerExpiry    Trigger = "expiry"    // the certificate entered its expiry margin
	TriggerMaxAge    Trigger = "max_age"   // the generation reached the maximum connection age
)

var triggers = [...]Trigger{TriggerRotation, TriggerHandshake, TriggerResponse, TriggerExpiry, TriggerMaxAge}

const numTriggers = len(triggers)

func (tr Trigger) index() int {
	for i, t := range triggers {
		if t == tr {
			return i
		}
	}
	return 0
}

// Renewal describes one generation retired by a [Transport], for
// [WithOnRenew]. It carries no key material.
type Renewal struct {
	Trigger Trigger
	// Key is the host whose failures started a handshake or response
	// renewal (lower case, default port dropped); "" for other triggers.
	Key string
	// Generation is the generation of the source's snapshot after the
	// renewal (and its re-read of the source, if any).
	Generation uint64
	At         time.Time // by the source's clock
}

// HandshakeError is a connection attempt that failed because a certificate
// was refused: the server rejected the client's (a bad_certificate,
// unknown_ca, certificate_expired, certificate_required or similar alert),
// the client could not verify the server's (unknown authority, expired), or
// the handshake timed out. Its class, phase and sentinel are those of Err,
// which it wraps.
//
// Renewing reports that the [Transport] is repairing the trouble: it re-read
// the source and retired the connections of the generation that failed, so
// the next attempt handshakes afresh. Such an error is neutral for a circuit
// breaker (errclass.Neutral reports true): it says nothing about the
// server's health. Once a generation made after the renewal fails the same
// way, Renewing is false and the failure counts.
type HandshakeError struct {
	Renewing bool
	Err      error
	class    errclass.Class
}

func (e *HandshakeError) Error() string {
	if e.Renewing {
		return "tlsrotate: handshake failed (renewing connections): " + e.Err.Error()
	}
	return "tlsrotate: handshake failed: " + e.Err.Error()
}

// Unwrap returns the handshake's own error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Neutral reports whether a renewal is repairing the failure (see
// errclass.Neutraler).
func (e *HandshakeError) Neutral() bool { return e.Renewing }

// Class returns the class of the handshake's error: TLS, or Timeout for a
// handshake timeout.
func (e *HandshakeError) Class() errclass.Class { return e.class }

// Is reports whether target is the sentinel of e's class.
func (e *HandshakeError) Is(target error) bool { return target != nil && target == e.class.Sentinel() }

// Timeout reports whether the handshake timed out.
func (e *HandshakeError) Timeout() bool {
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](e.Err)
	return ok && t.Timeout()
}

// certAlerts are the TLS alerts by which a server refuses the client's
// certificate: handshake_failure (OpenSSL's answer to a missing certificate
// in TLS 1.2), bad_certificate, unsupported_certificate,
// certificate_revoked, certificate_expired, certificate_unknown, unknown_ca,
// access_denied and certificate_required.
var certAlerts = [...]uint8{40, 42, 43, 44, 45, 46, 48, 49, 116}

// certFailure reports whether err is a handshake that a renewal may repair:
// an alert of certAlerts received from the server, a server certificate
// from an unknown authority or out of its validity, or a handshake timeout.
func certFailure(err error) bool {
	if errclass.PhaseOf(err) == errclass.PhaseTLSHandshake {
		return true
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "remote error" {
		// crypto/tls reports a received alert as its unexported alert type
		// (a uint8), which only reflection can read without its text.
		v := reflect.ValueOf(op.Err)
		if v.IsValid() && v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" {
			for _, a := range certAlerts {
				if uint8(v.Uint()) == a {
					return true
				}
			}
		}
		return false
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	ci, ok := errors.AsType[x509.CertificateInvalidError](err)
	return ok && ci.Reason == x509.Expired
}

// NginxRejection reports whether resp is how nginx (and servers built on
// it: OpenResty, ingress-nginx) rejects a client certificate: nginx
// completes the handshake whatever certificate it gets and answers the
// request with 400 and a page saying "The SSL certificate error" or "No
// required SSL certificate was sent" (its internal 495 and 496). The body is
// never read; the rule is the shape of those answers: status 400, a Server
// header naming nginx or openresty, an HTML body, and over HTTP/1 the
// connection closed after it (nginx turns keep-alive off for these errors,
// and does not for the 400s of an application behind it). nginx's other
// own 400s (a request header too large) look the same; taking one for a
// rejection costs a re-read of the source and new connections, never a
// failed request.
func NginxRejection(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest {
		return false
	}
	server := strings.ToLower(resp.Header.Get("Server"))
	if !strings.HasPrefix(server, "nginx") && !strings.HasPrefix(server, "openresty") {
		return false
	}
	if !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/html") {
		return false
	}
	return resp.Close || resp.ProtoMajor == 2
}

// rejected records that the server refused g's certificate for req (by a
// handshake failure or, with trig TriggerResponse, by a response), renews
// the connections when the rule says so, and reports whether a renewal is
// repairing the failure: g was already retired (the next attempt goes to a
// newer generation), the source is being re-read, or this failure started a
// renewal.
func (t *Transport) rejected(req *http.Request, g *generation, trig Trigger) bool {
	if g.retired.Load() || t.renewing.Load() > 0 {
		return true
	}
	key := hostkey.Of(req)
	if !t.coord.failed(key, g.seq, t.src.cfg.now()) {
		return false
	}
	t.retire(req.Context(), g, Renewal{Trigger: trig, Key: key})
	return true
}

// coordinator counts, per host, the connection attempts and the certificate
// failures of a Transport, and decides when they call for a renewal.
type coordinator struct {
	// busy counts keys with a failure streak or a renewal in progress; while
	// it is zero, a success has nothing to reset and takes no lock.
	busy atomic.Int32

	mu   sync.Mutex // guards keys
	keys map[string]*keyState
}

// keyState is one host's part of the coordination.
type keyState struct {
	streak int // certificate failures since the last success
	// renewed is the generation whose failures started the renewal in
	// progress (0: none): failures of a later generation are real.
	renewed uint64
	buckets [10]bucket // per second of the window, by Unix second mod 10
}

type bucket struct {
	sec          int64
	dials, fails int
}

func (c *coordinator) init() { c.keys = map[string]*keyState{} }

func (k *keyState) busy() bool { return k.streak > 0 || k.renewed > 0 }

// bucket returns the bucket of now, emptied if it held an older second.
func (k *keyState) bucket(now time.Time) *bucket {
	sec := now.Unix()
	b := &k.buckets[sec%int64(len(k.buckets))]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	return b
}

// sums returns the connection attempts and failures of the window.
func (k *keyState) sums(now time.Time) (dials, fails int) {
	sec := now.Unix()
	for _, b := range k.buckets {
		if sec-b.sec < int64(len(k.buckets)) {
			dials += b.dials
			fails += b.fails
		}
	}
	return dials, fails
}

// state returns key's state, making it if there is room (nil if not).
// c.mu must be held.
func (c *coordinator) state(key string, now time.Time) *keyState {
	if k := c.keys[key]; k != nil {
		return k
	}
	if len(c.keys) >= maxRenewKeys {
		for key, k := range c.keys {
			if d, f := k.sums(now); !k.busy() && d == 0 && f == 0 {
				delete(c.keys, key)
			}
		}
		if len(c.keys) >= maxRenewKeys {
			return nil
		}
	}
	k := &keyState{}
	c.keys[key] = k
	return k
}

// dialed counts a connection attempt to key.
func (c *coordinator) dialed(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.state(key, now); k != nil {
		k.bucket(now).dials++
	}
}

// failed counts a certificate failure of generation seq on key and reports
// whether it starts a renewal.
func (c *coordinator) failed(key string, seq uint64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.state(key, now)
	if k == nil || (k.renewed > 0 && seq > k.renewed) {
		return false // untracked, or a fresh generation failed too: it counts
	}
	was := k.busy()
	k.streak++
	k.bucket(now).fails++
	dials, fails := k.sums(now)
	renew := k.streak >= renewStreak || float64(fails) > renewShare*float64(max(dials, fails))
	if renew {
		k.renewed, k.streak = seq, 0
	}
	if !was {
		c.busy.Add(1)
	}
	return renew
}

// succeeded notes an answer on key from generation seq: the failure streak
// ends, and an answer from a generation made after the renewal ends it.
func (c *coordinator) succeeded(req *http.Request, seq uint64) {
	if c.busy.Load() == 0 {
		return
	}
	key := hostkey.Of(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys[key]
	if k == nil || !k.busy() {
		return
	}
	k.streak = 0
	if seq > k.renewed {
		k.renewed = 0
	}
	if !k.busy() {
		c.busy.Add(-1)
	}
}

// refresh re-reads the source now, on behalf of a Transport, reporting a
// rejection through the source's error hooks as a background reload does.
// A function source's call ends with ctx or with the source.
func (s *Source) refresh(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if _, err := s.reload(ctx); err != nil && s.ctx.Err() == nil {
		s.report(err)
	}
}
