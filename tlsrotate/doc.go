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
// files' symlinks resolve to are watched too), debounces bursts (100 ms, and
// at most ten times that for a burst that never pauses), re-reads all files
// together, polls as a fallback (every minute) and retries with a backoff
// after a rejection. [NewFuncSource] takes material from a function (SPIFFE,
// Vault), polled or pushed with [Source.Reload], each call bounded by
// [WithLoadTimeout].
//
// Every candidate is validated before it is used: every layout that
// tls.X509KeyPair accepts (a combined certificate-and-key file, EC
// PARAMETERS before the key, the key before or after the certificates), but
// nothing cut off or trailing; the key matches the certificate; now is
// inside the validity window (with a clock skew allowance); the extended key
// usage allows client authentication; and the chain verifies, for client
// use, to the issuer bundle when there is one. A rejected candidate leaves
// the last good snapshot in use and is reported as a [*RejectError] whose
// [Reason] is a closed set meant for metrics; a key that does not match its
// certificate is looked at once more a debounce later before it is
// reported, so that a writer that replaces the certificate and then the key
// raises no alarm. [Source.GetClientCertificate] only loads the current
// pointer: no I/O, no lock, no allocation on the handshake path. A source
// never yields an empty certificate: a constructor fails (or waits, with
// [WithStartTimeout]) until it has a valid one.
//
// # Connections
//
// Handshakes after a rotation present the new certificate, but pooled
// keep-alive connections would keep the old one for as long as they live,
// and a tls.Config offers no hook to change the roots of a live client.
// [Transport] (from [New], the bottom of a stack) solves both with
// generations: it keeps one clone of a template *http.Transport per
// generation, whose tls.Config carries that snapshot's RootCAs and nothing
// custom (so Go's own chain and hostname verification run, and proxies
// work), and sends every new request to the newest generation. Connections
// are dialed through a wrapper that tracks them per generation. The Source
// knows nothing of this: a Transport sees a new snapshot at its next request,
// or at once through the old snapshot's end. Requests that use no TLS
// (http:// URLs, sent directly or through a proxy that is not https://)
// carry no certificate: they share one more clone that rotations never
// retire, so their keep-alive connections outlive every rotation.
//
// Under the default [Graceful] retirement an older generation is retired:
// its idle connections are closed at once; it counts its requests in flight
// (a request is in flight until its response body is read to the end or
// closed), and when the count reaches zero every connection it dialed is
// closed, on HTTP/1.1 and HTTP/2 alike; at the drain timeout (30 s) whatever
// is left is closed anyway. So no request fails, and the first request that
// starts after a swap is published goes over a new connection that presents
// the new certificate. [Immediate] and [None] are the blunt alternatives.
// Whatever the retirement, a generation stops taking requests at its
// certificate's NotAfter minus [WithExpiryMargin] (5 minutes), and the
// source is re-read then, so no request is sent on a connection whose
// certificate has expired.
//
// A change of the CA bundle alone is a rotation too: new requests go to new
// connections verified against the new roots, and the old connections
// drain as above. A ClientSessionCache on the template is replaced by a
// fresh one per generation, so a new certificate is never skipped by
// resuming an old session.
//
// # Renewal when a server rejects the certificate
//
// When certificates roll, a server may start refusing the client's
// certificate before the source has seen the new one (the watcher's event
// was lost, a provider is polled hourly), or a server's new CA may not be in
// the client's bundle yet. A Transport counts, per host, its connection
// attempts and the handshakes that fail on a certificate (see
// [HandshakeError]), and, when three fail in a row or more than 15 % of the
// host's attempts in the last 10 seconds failed that way, it renews: it
// re-reads the source at once and retires the generation that failed, so
// the next attempt handshakes afresh with whatever the source holds now.
// The failures of a generation being renewed are neutral for a circuit
// breaker (errclass.Neutral reports true for them): they say nothing about
// the server's health and must not open its circuit. If a generation made
// after the renewal fails the same way, the problem is real: those failures
// count, and no further renewal is made for that host until one of its
// requests succeeds. Servers such as nginx that complete the handshake
// and answer 400 instead are recognised by [WithRejection] (default
// [NginxRejection]); their responses reach the caller untouched.
//
// # Without a Transport
//
// [Configure] is the lighter option for code that must keep its own
// *http.Transport: it sets GetClientCertificate and, with a CA bundle,
// verifies servers itself in VerifyConnection (which also runs on resumed
// sessions) against the current roots and the dialed host, failing closed.
// It cannot retire pooled connections, does not renew, and does not support
// proxies.
//
// # Observability
//
// [WithOnRotate] hears every swap as a [Rotation] (serials, NotAfter,
// generation; never key material), [WithOnError] every rejection
// ([*RejectError]) and an [*ExpiringError] when a rotation is overdue,
// [WithOnRenew] every generation a Transport retires. [Source.Stats],
// [Source.ExpiresIn], [Transport.Stats] and [Transport.LiveConnections] feed
// gauges and counters; the standard package turns them into chain.tls.*
// metrics without this package importing OpenTelemetry. [RenewAt] tells
// push providers when to renew.
package tlsrotate
