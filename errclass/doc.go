// Package errclass says what went wrong with an HTTP exchange, as data.
//
// Go's net/http, net and crypto/tls report failures through a dozen error
// types, several of them unexported, wrapped in *url.Error and in each other.
// Retry policies, circuit breakers, metrics and logs all need the same answer
// to the same question: what kind of failure was this, and is a resend safe?
// This package gives that answer once, as three values:
//
//   - a [Class] (what kind of failure), from [Classify] and [ClassifyResponse];
//   - a [Phase] (for a timeout: which bound ran out), from [PhaseOf];
//   - a bool (did the request provably never reach the server), from [Unsent].
//
// Each looks through *url.Error and any %w wrapping, errors.Join included,
// and uses only the standard library.
//
// # Classes
//
// Classify maps any error to one Class; ClassifyResponse does the same for
// the (response, error) pair of a round trip, so that a 4xx or 5xx answer is
// Status. What produces each class:
//
//   - [OK]: no error (and, for ClassifyResponse, a status below 400).
//   - [Canceled]: the caller gave up: context.Canceled anywhere in the chain
//     (net/http returns it inside a *url.Error), and net/http's "request
//     canceled" (Request.Cancel). Never retried, never counted against a
//     breaker. A context canceled with a cause (context.WithCancelCause)
//     makes net/http return that cause, which is classified instead.
//   - [RequestBody]: the caller's own request body failed to produce its
//     bytes (a truncated upload source, a proxy's downstream client gone).
//     Only errors that say so through [Classer] have this class (the
//     timeouts layer marks them, with [PhaseRequestBody]): over TLS and
//     HTTP/2 net/http's own error cannot be told from a server's fault.
//     Never retried, never counted against a breaker: the server is not to
//     blame.
//   - [Timeout]: a bound ran out: context.DeadlineExceeded,
//     os.ErrDeadlineExceeded, or any error in the chain whose Timeout method
//     reports true: dial timeouts, net/http's "timeout awaiting response
//     headers" (HTTP/1 and HTTP/2), "TLS handshake timeout" and
//     "Client.Timeout exceeded", and a *net.DNSError that timed out.
//   - [DNS]: a *net.DNSError that is not a timeout: the name does not exist
//     (IsNotFound), the server failed (IsTemporary), or no server could be
//     asked. Inspect the *net.DNSError with errors.As to tell them apart.
//   - [Refused]: no connection could be made: ECONNREFUSED, or a dial that
//     failed with "host unreachable", "network unreachable", "host down" or
//     "network down".
//   - [Reset]: a connection broke: ECONNRESET, ECONNABORTED, EPIPE (broken
//     pipe), io.EOF and io.ErrUnexpectedEOF (the server closed before or
//     while answering), net.ErrClosed, net/http's "server closed idle
//     connection", an HTTP/2 stream reset (RST_STREAM, REFUSED_STREAM
//     included), an HTTP/2 GOAWAY that ended the request, and an HTTP/2
//     connection that the ping health check found dead.
//   - [TLS]: the TLS handshake failed or a certificate was rejected:
//     *tls.CertificateVerificationError and the x509 errors inside it (unknown
//     authority, expired or otherwise invalid certificate, hostname mismatch,
//     ...), tls.RecordHeaderError and http.ErrSchemeMismatch (the peer does
//     not speak TLS), a TLS alert received or sent (crypto/tls reports those
//     as a *net.OpError with Op "remote error" or "local error",
//     tls.AlertError), and the other handshake errors of crypto/tls.
//   - [Status]: the server answered with a 4xx or 5xx status
//     (ClassifyResponse), or a [*StatusError] from [FromResponse].
//   - [BreakerOpen]: a circuit breaker rejected the call without sending it
//     (only errors that say so through [Classer] have this class).
//   - [Limited]: a client-side concurrency limit shed the call without
//     sending it (only errors that say so through [Classer]). Never retried
//     by default, never counted against a breaker.
//   - [Protocol]: the peer spoke malformed HTTP: a bad status line, version
//     or header line (textproto.ProtocolError), a bad Content-Length,
//     malformed chunked encoding, a response header larger than the
//     transport's limit, an HTTP/2 stream this side reset because the peer
//     broke the protocol.
//   - [Unknown]: anything else, for instance a request net/http refuses to
//     send (unsupported scheme, no host, invalid header), which no retry can
//     fix.
//
// When an error carries several of these, the first rule that applies wins,
// in this order: an error in the chain that implements [Classer] (the
// errors of this module's other packages, or the caller's own) is trusted;
// then Canceled (so a lookup or dial cut short by the caller is Canceled,
// not DNS); then a *net.DNSError (Timeout or DNS); then Timeout; Refused;
// TLS; HTTP/2 stream errors (Reset or Protocol); Reset; Protocol; then the
// texts of net/http's unexported errors (Canceled, Reset or Protocol, see
// below); Unknown.
//
// The String form of a Class ("ok", "canceled", "request_body", "timeout",
// "dns", "refused", "reset", "tls", "status", "breaker_open", "limited",
// "protocol", "unknown") is a stable, small set of values: use it as a metric
// attribute or a log field.
//
// [Neutral] tells whether an error says nothing about the server's health
// (the caller's cancellation, its own request body, a call that was never
// sent), which is what a circuit breaker must not count; [PausedFor] reads a
// rejection that relays a server's Retry-After.
//
// # Phases
//
// PhaseOf tells, for a timeout, in which part of the exchange it fired:
// [PhaseDNS], [PhaseConnect], [PhaseTLSHandshake], [PhaseWriteIdle],
// [PhaseResponseHeader], [PhaseBodyIdle], [PhaseAttempt] or [PhaseTotal].
// Errors that implement [Phaser] (the timeouts package's) say it themselves.
// The standard library's timeouts are mapped: a *net.DNSError timeout is
// PhaseDNS, a timed-out dial is PhaseConnect, net/http's "TLS handshake
// timeout" is PhaseTLSHandshake, its "timeout awaiting response headers"
// (HTTP/1 and HTTP/2) is PhaseResponseHeader, and http.Client.Timeout is
// PhaseTotal. A bare context.DeadlineExceeded has no phase ([PhaseNone]): it
// could be any deadline of the caller's. Phase values are stable lower-case
// strings, like Class names.
//
// # Unsent requests
//
// Unsent reports whether an error proves that the server never received
// the request, so that resending it is safe even when it is not idempotent:
// the name did not resolve, no connection was made, the TLS handshake
// failed, the HTTP/2 server refused the stream, a breaker rejected the call.
// Unsent's documentation gives the exact list. A false answer means the
// request may have been processed.
//
// # How errors are recognised
//
// Every decision is made with errors.Is and errors.As (errors.AsType) over
// the standard library's types, except for the errors that net/http and its
// bundled HTTP/2 implementation do not export, and for which no type or
// variable can be named: those are recognised by their exact text, each
// listed in the source with the standard library file that spells it, and a
// test of this package fails when Go changes one of them. Texts are only
// looked for in the innermost errors of a chain, after every typed check.
//
// # Sentinels and this module's errors
//
// [ErrNetwork] (DNS, Refused, Reset, TLS), [ErrTimeout] and [ErrHTTPStatus]
// serve errors.Is. Errors made by this module (timeouts, breaker, this
// package's [*StatusError]) implement [Classer] and match the sentinel of
// their class, if it has one, given by [Class.Sentinel]; errors of the standard library do
// not match them (nobody can add methods to them): use Classify for those.
//
// # Status errors
//
// A RoundTripper never turns a response into an error. A caller who wants
// one calls [FromResponse] after http.Client.Do: it returns nil below 400
// and, from 400 on, a [*StatusError] carrying the status, the method, the
// URL and header with secrets redacted, and the first [MaxBody] bytes of the
// body, read with a size and a time bound; the body is closed.
//
// # Logging errors
//
// An error of net/http can carry secrets in its text: http.Client prints the
// URL of a failed request, user name and query values included. [Redact]
// gives an error safe to log, with the redaction rules of this module's
// spans and log records, that keeps the class, phase and errors.Is answers
// of the original:
//
//	resp, err := client.Do(req)
//	if err = errclass.FromResponse(resp, err); err != nil {
//		if errors.Is(err, errclass.ErrTimeout) { ... }     // branch on err
//		log.Printf("fetch: %v", errclass.Redact(err))       // log the redacted one
//	}
//
// Everything in this package is safe for concurrent use.
package errclass
