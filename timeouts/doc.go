// Package timeouts bounds every phase of an HTTP exchange separately and, when
// a bound runs out, says which phase it was.
//
// net/http bounds some phases and not others, and its errors rarely say
// which one ran out. This package gives each phase its own bound, enforced in
// one place, and reports every timeout as an *[Error] with a
// [errclass.Phase] and the bound that applied:
//
//	phase            bound                  enforced by                          default
//	dns              WithDNS                NewTransport (its dialer)            1s
//	connect          WithConnect            NewTransport (its dialer)            500ms per address
//	tls_handshake    WithTLSHandshake       NewTransport (its connections)       2s
//	write_idle       WithWriteIdle          New / Middleware                     30s
//	response_header  WithResponseHeader     New / Middleware; else NewTransport  3s
//	                                        (its HTTP/1 connections)
//	body_idle        WithBodyIdle           New / Middleware                     30s
//	attempt          WithAttempt            New / Middleware                     none
//	total            Total(d)               Total                                none
//
// Use the three together; one []Option can be passed to both constructors:
//
//	opts := []timeouts.Option{timeouts.WithResponseHeader(5 * time.Second)}
//	rt := chain.Build(timeouts.NewTransport(opts...),
//		timeouts.Total(10*time.Second), // outermost
//		retry.Middleware(),
//		timeouts.Middleware(opts...), // per attempt, below retry
//	)
//
// Under New or Middleware the connections of NewTransport leave the response
// header bound to them, request by request, so it runs once. NewTransport
// used alone bounds it on HTTP/1 connections only, and net/http wraps that
// error in its own (see [NewTransport] for what a connection cannot see).
//
// # Errors
//
// An *Error is a net.Error with Timeout() true, matches
// [errclass.ErrTimeout] and [context.DeadlineExceeded] with errors.Is, and
// errclass.Classify returns Timeout for it. The phase and the bound are in
// its fields and its text, which names the phase by its token so that logs
// can be searched for it ("timeouts: response_header: no response header
// within 3s"). The same error comes back over HTTP/1.1 and HTTP/2, although
// the two report an aborted stream differently underneath: the middleware
// remembers that its own timer fired. The caller's own cancellation stays
// context.Canceled, and a deadline of the caller's that comes first stays the
// caller's error: neither is ever reported as a timeout of this package.
// Every other error the layers return passes through errclass.Wrap, so that
// it matches its class's sentinel.
//
// A failure of the caller's own request body (its Read returned an error,
// even a timeout of its own) is returned as an error of class
// [errclass.RequestBody] and phase [errclass.PhaseRequestBody], which wraps
// the body's error and blames nothing on the server: a retry layer does not
// resend the request for it and a breaker does not count it.
//
// # Streams
//
// The body idle bound runs only while the caller is blocked in Read, so a
// slow consumer is never cut, and a stream that keeps delivering bytes is
// never cut however long it runs. With [WithAdaptiveBodyIdle] and
// [WithAdaptiveWriteIdle] the bounds follow the pace of the stream, learned
// from its gaps (the waits for data, not the reads: a read served from a
// buffer is not a gap). The attempt bound, when set, covers the body too:
// leave it unset for long streams.
//
// # Defaults and WAN links
//
// The defaults are for calls inside one data centre, where a name resolves
// in milliseconds and a connection is set up in a round trip of well under a
// millisecond. Across regions or the internet, widen the connection bounds
// to a few round trips plus the tail of the resolver, for example WithDNS(5s),
// WithConnect(3s) (an unanswered SYN is only resent after 1s), and
// WithTLSHandshake(5s); set WithResponseHeader from the slowest answer the
// server is expected to give, plus margin. The idle bounds rarely need
// widening: they measure silence, not duration.
//
// # Precision and cost
//
// The middleware starts no goroutine per request, and on the request's path
// it reads the clock once and sets no timer in the common case: each round trip
// borrows a timer from a pool kept by the Transport, which ticks while a
// bound is running, every sixteenth of that bound, and checks the bounds. A
// bound therefore fires no earlier than its limit and at most an eighth of
// the limit later (a 200ms bound between 200 and 225ms, the 30s body idle
// default within 34s). The timer goes back to the pool when the body reaches
// EOF, fails or is closed (or when RoundTrip fails, or next panics). The
// context the middleware gives the next RoundTripper lives until then, so a
// body read long after RoundTrip returned is never cut by a cancelled
// context. A round trip costs one allocation (480 bytes: the state, its
// context and the request copy) over a RoundTripper that does not look at
// its context, and about ten over net/http, which asks it for Done and for
// its httptrace hooks and derives contexts from it. Total fires on time,
// from a pooled timer too, and costs at most two allocations per request.
//
// # In testing/synctest bubbles
//
// A Transport (and a Total) reads the clock of the place it was made: made
// inside a bubble, its bounds run on the bubble's fake clock; so make the
// client under test inside the bubble. Inside a bubble each round trip makes
// its own timer, and timers made outside are not used there, so one client
// (a package-level one, say) can serve tests inside and outside bubbles: its
// bounds keep working outside.
package timeouts
