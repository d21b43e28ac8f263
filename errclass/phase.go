package errclass

import (
	"errors"
	"net"
)

// Phase names the part of an exchange in which a timeout fired. Its values are
// stable lower-case names, fit for logs and metric attributes.
type Phase string

// The phases of an exchange, in the order they happen.
const (
	PhaseNone           Phase = ""                // not a timeout, or a timeout whose phase is unknown
	PhaseDNS            Phase = "dns"             // resolving the host name
	PhaseConnect        Phase = "connect"         // dialing one address
	PhaseTLSHandshake   Phase = "tls_handshake"   // the TLS handshake
	PhaseRequestBody    Phase = "request_body"    // the caller's own request body failed to produce its bytes (not a timeout of the server's)
	PhaseWriteIdle      Phase = "write_idle"      // the transport took no byte of the request body
	PhaseResponseHeader Phase = "response_header" // waiting for the response header
	PhaseBodyIdle       Phase = "body_idle"       // no byte of the response body arrived
	PhaseAttempt        Phase = "attempt"         // one attempt, header and body
	PhaseTotal          Phase = "total"           // every attempt and every wait together
)

// Phaser is implemented by timeout errors that know their phase. PhaseOf
// trusts the first Phaser it finds in the chain.
type Phaser interface {
	TimeoutPhase() Phase
}

// PhaseOf returns the phase of a timeout error, or PhaseNone when err is not
// a timeout or its phase cannot be told.
//
// The first [Phaser] in the chain decides. Otherwise the standard library's
// timeouts are mapped:
//
//   - a *net.DNSError that timed out: PhaseDNS;
//   - http.Client's "Client.Timeout exceeded while awaiting headers" and
//     "Client.Timeout or context cancellation while reading body": PhaseTotal
//     (the client's bound over the whole exchange, redirects included);
//   - net/http's "TLS handshake timeout" (Transport.TLSHandshakeTimeout):
//     PhaseTLSHandshake;
//   - net/http's "timeout awaiting response headers", HTTP/1 and HTTP/2
//     (Transport.ResponseHeaderTimeout): PhaseResponseHeader;
//   - a *net.OpError with Op "dial" that is a timeout (Dialer.Timeout, or a
//     deadline reached while connecting): PhaseConnect.
//
// A bare context.DeadlineExceeded or os.ErrDeadlineExceeded gives PhaseNone:
// the deadline could be any of the caller's.
func PhaseOf(err error) Phase {
	if err == nil {
		return PhaseNone
	}
	if p, ok := errors.AsType[phaserError](err); ok {
		return p.TimeoutPhase()
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok && isDNSTimeout(de) {
		return PhaseDNS
	}
	if !isTimeout(err) {
		return PhaseNone
	}
	if t := matchText(err); t != nil && t.phase != PhaseNone {
		return t.phase
	}
	if op, ok := opError(err, "dial"); ok && isTimeout(op) {
		return PhaseConnect
	}
	return PhaseNone
}

// phaserError is what errors.AsType needs to find a Phaser.
type phaserError interface {
	error
	Phaser
}

// Unsent reports whether err proves that the request never reached the
// server's HTTP layer, so that resending it is safe whatever its method. It
// is true for:
//
//   - DNS: the name did not resolve, or its resolution timed out;
//   - Refused, and any other failed dial (a *net.OpError with Op "dial",
//     timeouts included): no connection was made;
//   - a failure to set up a connection through a proxy (a *net.OpError with
//     Op "proxyconnect"), before the request was sent to the origin;
//   - a timeout of phase PhaseDNS, PhaseConnect or PhaseTLSHandshake, from a
//     [Phaser] or from net/http ("TLS handshake timeout");
//   - a failed TLS handshake: certificate verification errors (unknown
//     authority, invalid or expired certificate, hostname mismatch), a peer
//     that does not speak TLS (tls.RecordHeaderError, http.ErrSchemeMismatch)
//     and a TLS alert received from the peer (with TLS 1.3 a server that
//     rejects the client's certificate says so after the client has written
//     its request, but the server discards it unread);
//   - HTTP/2 REFUSED_STREAM, by which the server states it did not process
//     the stream, and net/http's "received Server's graceful shutdown GOAWAY"
//     for a stream above the GOAWAY's last stream id;
//   - BreakerOpen: the breaker rejected the call without sending it.
//
// It is false for everything else, including every timeout after the
// connection was made (the server may be processing the request), resets,
// EOF (net/http does not say whether the request was written), a GOAWAY that
// closed the connection with the stream at or below the last stream id, a TLS
// alert this side sent (it may concern the response), and Canceled unless
// the cancellation hit one of the cases above. A false result does not mean
// the request was processed, only that it may have been.
func Unsent(err error) bool {
	if err == nil {
		return false
	}
	switch Classify(err) {
	case DNS, Refused, BreakerOpen:
		return true
	}
	switch PhaseOf(err) {
	case PhaseDNS, PhaseConnect, PhaseTLSHandshake:
		return true
	}
	if hasOp(err, "dial") || hasOp(err, "proxyconnect") {
		return true
	}
	if isHandshakeTLS(err) || isH2Refused(err) {
		return true
	}
	t := matchText(err)
	return t != nil && t.unsent
}
