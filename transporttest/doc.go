// Package transporttest provides fake HTTP servers that fail in the ways
// real servers and networks fail, and a scripted [http.RoundTripper], for
// testing HTTP clients and RoundTripper layers (this module's, or your own).
//
// # Failure shapes
//
// Each New… constructor returns a started [*Server] on a free 127.0.0.1 port
// that plays one failure shape. What a Go client (net/http) sees, with, in
// parentheses, the class errclass.Classify gives its error:
//
//   - [NewSequence]: the replies given, in order, the last one repeating:
//     503, 503, then 200, with headers such as Retry-After. For retry
//     policies and status handling.
//   - [NewSlowHeader]: the response header arrives only after a delay. A
//     client header timeout fails with "timeout awaiting response headers"
//     (Timeout, phase response_header).
//   - [NewTrickle]: the body arrives one byte per interval. It never stops
//     moving, so a body-idle bound longer than the interval must not cut it.
//   - [NewStall]: the header and a few bytes arrive, then nothing: the body
//     read blocks until a timeout or the context ends it (Timeout).
//   - [NewResetMidBody]: the connection is reset (TCP RST) partway through
//     the body: the body read fails with "connection reset by peer" (Reset).
//   - [NewEmptyReply]: the request is read and the connection closed without
//     a response: the request fails with io.EOF (Reset).
//   - [NewReset]: the request is read and the connection reset (TCP RST)
//     without a response: "connection reset by peer", after the request
//     may have been processed (Reset).
//   - [NewMalformedChunked]: a 200 whose chunked body is corrupt: the body
//     read fails (Protocol). [NewRawReply] sends any bytes you choose as
//     the response: a bad status line, a short body.
//   - [NewStaleKeepAlive]: a kept-alive connection is closed just as the
//     client reuses it. net/http retries replayable requests (GET, or a body
//     with GetBody and an Idempotency-Key) by itself; others fail with EOF.
//   - [NewBlackhole]: connections are accepted and never read or answered,
//     not even a TLS handshake: only the client's timeouts end the request
//     (Timeout; phase tls_handshake for a TLS handshake timeout).
//   - [NewNoRead]: the request header is read, the body never: a large
//     upload blocks in its write (an upload stall).
//   - [NewSlowReader]: the request body is read a chunk per interval: an
//     upload that keeps moving, slowly.
//   - [NewAnswerBeforeBody]: the answer (say 413 or 503) comes before the
//     request body is read, and the connection is closed: the client gets
//     the response, or a write error, and must not reuse the body it sent.
//   - [NewUpgradeEcho]: 101 Switching Protocols to a raw echo protocol; the
//     response body is an io.ReadWriteCloser.
//   - [NewHTTP2]: HTTP/2 over TLS; with [Server.Freeze], a dead connection
//     that stops answering frames (only HTTP/2 pings detect it).
//   - [NewGoAway]: HTTP/2 connections shut down gracefully with GOAWAY
//     after a number of requests each.
//   - [DeadAddr]: an address where nothing listens: the dial is refused
//     (Refused).
//   - [NewServer]: your own handler, with the same recording.
//
// # Recording
//
// A server records what it saw, so tests can assert on the server side:
// [Server.Requests], [Server.Connections], [Server.OpenConnections],
// [Server.BodyBytes], and every request with its connection id in
// [Server.Seen]: two requests on one connection share a [Request.ConnID],
// which is how tests check connection reuse. [Server.Client] returns a
// client wired to the server (trusting its certificate after StartTLS).
//
// # Shape and lifetime
//
// Servers are shaped like [httptest.Server]. Each constructor has a
// NewUnstarted… twin whose exported fields (Listener, EnableHTTP2, TLS,
// Config) can be set before [Server.Start] or [Server.StartTLS]: that is how
// any fixture runs over TLS, over HTTP/2, or in memory:
//
//	srv := transporttest.NewUnstartedStall(0)
//	srv.EnableHTTP2 = true
//	srv.StartTLS()
//	t.Cleanup(srv.Close)
//
// Every stall is bounded by [Server.Close]: it releases every handler that
// waits on purpose, closes every connection and waits for the server's
// goroutines, so tests stay fast and go.uber.org/goleak finds nothing. A
// fixture also stops waiting when its client goes away. Servers have no
// global state, listen on loopback only, and may run in parallel tests.
//
// # Without a network
//
// [Script] is a RoundTripper that plays scripted responses, errors and
// delays, one [Step] per call, for unit tests of RoundTripper layers. It
// records each request and counts calls, the response bodies it handed out,
// and those that were closed.
//
// [MemListener] is an in-memory listener and dialer. A server started on one
// (set [Server.Listener] before Start) is reached through [Server.Client]
// with no socket, so client-and-server tests run inside a testing/synctest
// bubble, where a one-minute stall or a thirty-second trickle passes on the
// bubble's fake clock in no real time.
//
// # TLS
//
// [CA] issues throw-away certificates, and [TLSServer] is an HTTPS server
// for mutual-TLS tests that can change its certificate and the client CAs it
// accepts while running; [WritePair] and [WriteKubernetes] write
// credentials to disk the ways real secret stores do.
package transporttest
