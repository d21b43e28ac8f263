// Package transporttest provides fake HTTP servers that fail in the ways
// real servers and networks fail, and a scripted [http.RoundTripper], for
// testing HTTP clients and the RoundTripper layers of this module (or any
// others).
//
// # Servers
//
// Each New… constructor returns a started [*Server] on a free 127.0.0.1 port
// that plays one failure shape:
//
//   - [NewSequence]: status sequences, such as 503, 503, then 200, with
//     headers such as Retry-After; the last reply repeats.
//   - [NewSlowHeader]: the response header comes only after a delay.
//   - [NewTrickle]: the body arrives one byte per interval; it never stops
//     moving, so an idle bound must not cut it.
//   - [NewStall]: the header and a few bytes arrive, then nothing.
//   - [NewResetMidBody]: the connection is reset (TCP RST) partway through
//     the body.
//   - [NewEmptyReply]: the connection is closed without a response.
//   - [NewMalformedChunked]: the chunked body is corrupt.
//   - [NewStaleKeepAlive]: a kept-alive connection is closed just as the
//     client reuses it.
//   - [NewBlackhole]: connections are accepted and never answered (not even
//     a TLS handshake).
//   - [NewNoRead]: the request body is never read (an upload stall).
//   - [NewSlowReader]: the request body is read slowly.
//   - [NewAnswerBeforeBody]: the answer comes before the request body is
//     read, and the connection is closed.
//   - [NewUpgradeEcho]: 101 Switching Protocols to a raw echo protocol.
//   - [NewHTTP2], [Server.Freeze] and [NewGoAway]: HTTP/2 over TLS, a dead
//     HTTP/2 connection, and a graceful GOAWAY.
//   - [DeadAddr]: an address where nothing listens (connection refused).
//   - [NewServer]: your own handler, with the same recording.
//
// A server records what it saw, so tests can assert on the server side:
// [Server.Requests], [Server.Connections], [Server.OpenConnections],
// [Server.BodyBytes], and every request with its connection id in
// [Server.Seen] (two requests on one connection share a [Request.ConnID]).
// [Server.Client] returns a client wired to the server (trusting its
// certificate after StartTLS).
//
// Servers are shaped like [httptest.Server]: each constructor has a
// NewUnstarted… twin, whose exported fields (Listener, EnableHTTP2, TLS,
// Config) can be set before [Server.Start] or [Server.StartTLS]; that is how
// a fixture runs over TLS, over HTTP/2, or in memory.
//
// Stalling is bounded by [Server.Close]: it releases every handler that is
// waiting on purpose, closes every connection and waits for the server's
// goroutines, so tests stay fast and leak-free (go.uber.org/goleak passes).
// Call it with t.Cleanup(srv.Close). Servers have no global state and may
// run in parallel tests.
//
// # Without a network
//
// [Script] is a RoundTripper that plays scripted responses, errors and
// delays, one [Step] per call, for unit tests of RoundTripper layers. It
// counts calls and the response bodies it handed out and that were closed.
//
// [MemListener] is an in-memory listener and dialer: a server started on one
// (set [Server.Listener] before Start) is reached through [Server.Client]
// with no socket, so whole client-and-server tests run inside a
// testing/synctest bubble, on its fake clock.
package transporttest
