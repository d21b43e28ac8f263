// Package transporttest provides fake HTTP servers that fail in the ways
// real servers and networks fail, and a scripted [http.RoundTripper], for
// testing HTTP clients and RoundTripper layers (this module's, or your own).
//
// It is shaped like net/http/httptest: a [Server] serves an [http.Handler],
// [NewServer] returns it started and [NewUnstartedServer] unstarted, and
// TLS, HTTP/2, in-memory connections and graceful shutdowns are modes set
// on the Server before it starts. The failure shapes are handlers too:
// a [Reply] value, or a [Sequence] of them.
//
//	srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
//	t.Cleanup(srv.Close)
//
// # Failure shapes
//
// A [Reply] describes one response and how it goes wrong. What a Go client
// (net/http) sees, with, in parentheses, the class errclass.Classify gives
// its error:
//
//   - [Sequence]: the replies given, in order, the last one repeating:
//     503, 503, then 200, with headers such as Retry-After. For retry
//     policies and status handling.
//   - Reply.Delay: the response header arrives only after a delay. A
//     client header timeout fails with "timeout awaiting response headers"
//     (Timeout, phase response_header).
//   - Reply.Trickle: the body arrives one byte per interval. It never stops
//     moving, so a body-idle bound longer than the interval must not cut it.
//   - Reply.BodySize: a huge or endless body, generated as it is sent.
//   - Reply.ReadEvery: the request body is read a chunk per interval: an
//     upload that keeps moving, slowly.
//   - Reply.Raw: any bytes you choose as the response: a bad status line, a
//     short body.
//   - Reply.Status 101: Switching Protocols to a raw echo protocol; the
//     response body is an io.ReadWriteCloser.
//   - Reply.Fault, a [Fault]: [Stall] (the body read blocks: Timeout),
//     [ResetMidBody] (Reset), [Reset] (Reset, after the request may have
//     been processed), [EmptyReply] (io.EOF: Reset), [MalformedChunked]
//     (Protocol), [StaleKeepAlive] (a kept-alive connection closed just as
//     the client reuses it), [Blackhole] (connections accepted and never
//     read or answered, not even a TLS handshake: Timeout), [NoRead] (the
//     request body is never read: an upload stall) and [AnswerBeforeBody]
//     (the answer comes before the request body is read).
//   - [Server.Freeze]: the connections open now go dead; over HTTP/2, only
//     pings detect it.
//   - [Server.GoAwayAfter]: connections are shut down gracefully (GOAWAY
//     over HTTP/2) after a number of requests each.
//   - [DeadAddr]: an address where nothing listens: the dial is refused
//     (Refused).
//
// Any handler of your own works too, with the same recording.
//
// # Recording
//
// A server records every request it receives, with the connection it came
// on and its TLS state, in [Server.Seen] (two requests on one connection
// share a [Request.ConnID], which is how tests check connection reuse), and
// counts requests, connections, open connections and request-body bytes in
// [Server.Stats]. [Server.Client] returns a client wired to the server
// (trusting its certificate after StartTLS).
//
// # Modes and lifetime
//
// The exported fields of a Server (Listener, EnableHTTP2, TLS, Config,
// GoAwayAfter) are set before [Server.Start] or [Server.StartTLS]: that is
// how any handler runs over TLS, over HTTP/2, in memory, or with graceful
// shutdowns:
//
//	srv := transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Stall})
//	srv.EnableHTTP2 = true
//	srv.StartTLS()
//	t.Cleanup(srv.Close)
//
// For mutual TLS, set TLS.ClientAuth and TLS.ClientCAs (a [CA] issues
// throw-away certificates); [Server.UpdateTLS] rotates the server's
// certificate or the client CAs it accepts while it runs.
//
// Every stall is bounded by [Server.Close]: the context of every request
// ends when Close starts, which releases every handler that waits on
// purpose; Close then waits for requests in flight, closes every connection
// and waits for the server's goroutines, so tests stay fast and
// go.uber.org/goleak finds nothing. A fixture also stops waiting when its
// client goes away. Servers have no global state, listen on loopback only,
// and may run in parallel tests.
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
// # Certificates and files
//
// [CA] issues throw-away certificates; [WritePair] and [WriteKubernetes]
// write credentials to disk the ways real secret stores do.
package transporttest
