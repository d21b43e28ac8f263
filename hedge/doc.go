// Package hedge cuts the tail latency of HTTP requests by sending a second
// copy of a slow attempt, within a budget, over another connection.
//
// A few slow responses (a GC pause, a slow replica, a lost packet) dominate
// the latency users see, and retries do not help because nothing failed. A
// [Transport] sends the request through the next [http.RoundTripper] and, if
// no response headers have come back after a delay, sends a hedge: the same
// request again. The first response headers to arrive win; the other
// attempts are cancelled.
//
//	client := &http.Client{Transport: hedge.New(nil, hedge.WithBudget(budget))}
//
// # What is hedged
//
// Only requests that are safe to send twice, by the retry package's rule:
// methods GET, HEAD, OPTIONS, TRACE, PUT and DELETE, or any request carrying
// an Idempotency-Key (or X-Idempotency-Key) header. A request with a body is
// hedged only when GetBody can produce it again; each hedge sends a fresh
// body from GetBody while the first attempt sends the caller's. A request
// that asks for a protocol upgrade is never hedged. A hedge goes out only if
// the caller's deadline leaves it at least one delay: a request whose
// deadline is less than two delays away is sent once, as it is, and so is
// every request that is not hedged, at no cost.
//
// # Delay
//
// By default the delay is the host's recent P95 time to response headers
// ([WithQuantile] picks another quantile), clamped to [WithDelayBounds]
// (5 ms to 2 s). Each host (by the normalised host of the URL) has a small
// histogram of the times its first attempts took to response headers, the
// last 1,024 to 2,048 of them within the last one to two minutes, in buckets
// 12.5 % wide; a first attempt that lost to a hedge counts with the time it
// had waited when it lost, so the tail the hedges cut stays visible. Until a
// host has 50 such samples its delay is the upper bound. A Transport keeps
// histograms for 1024 hosts at most; past that, an arbitrary host's is
// dropped and that host starts over. [WithDelay] sets a fixed delay instead. [WithMaxHedges] (default 1)
// allows more hedges, each one delay after the one before.
//
// # Budget
//
// Each hedge takes a token from the [Budget] of [WithBudget] and is not sent
// without one. Give it the *retry.Budget of the retry layer above, so that
// retries and hedges together stay within its ratio of the requests: the
// retry layer counts each request in the budget; this layer only spends.
// Without WithBudget the layer is unbudgeted: every slow request gets up to
// [WithMaxHedges] hedges.
//
// # Connections
//
// A hedge must not ride the connection that is slow. Over HTTP/1 a
// connection carries one request at a time, so a hedge takes another. Over
// HTTP/2 every request to a host shares one connection, so hedges need a
// connection pool of their own: when the next layer is an *http.Transport,
// [New] sends hedges through a clone of it; in a stack with layers in
// between, put [Split] at the bottom, which sends hedges to a second
// transport. A hedge's request context is marked so that Split, and the
// tracing layer, can tell it from other attempts.
//
// # Winner and losers
//
// The first attempt whose response headers arrive wins, whatever its status
// (the retry layer above judges it). Its response is returned with its body
// untouched: the layer wraps the body only to release the attempt's context
// when the caller reads to the end or closes it. Every other attempt is
// cancelled through its context, and a response that still arrives is closed
// unread. A cancelled HTTP/1 attempt costs its connection (the transport
// closes it); an HTTP/2 one costs a stream reset, and the connection stays
// in use. An error from one attempt does not end the request while another
// attempt is in flight; when every attempt has failed, the last error is
// returned. The caller's cancellation ends the request at once. The layer
// never calls CloseIdleConnections by itself.
//
// The first attempt runs on the caller's goroutine; each hedge runs on the
// goroutine of the timer that sent it, which ends as soon as the layer below
// returns from its attempt. A hedge can only replace an attempt that the layer
// below lets go of when its context ends: the hedge timer is set when the
// layer below first asks for the first attempt's Done channel, as
// *http.Transport does at once, and counts from the start of the attempt.
// A layer that never watches the context is never hedged: the caller would
// wait for its attempt anyway.
//
// # Cost
//
// A request that is not hedgeable goes straight through, at no cost. A
// hedgeable one that needs no hedge costs one allocation (the race, which
// holds the first attempt's request, its context and the wrapper of the
// winner's body) and two clock readings. When the layer below watches the
// context, the race also takes a hedge timer from a pool of the Transport's
// and gives the first attempt a context it can end: when the caller's
// context can never end (that of http.NewRequest), that is a Done channel,
// two allocations in all over a fake layer below (BenchmarkNoHedge); when it
// can, a context.WithCancelCause of it, four in all. Over *http.Transport,
// which derives a context of its own from the request's, add two for the
// context package's bookkeeping of it either way (BenchmarkNoHedgeLoopback,
// client and loopback server in one process: 47 allocations a request
// without the layer, 51 with it, 53 when the caller's context can end).
//
// Hedge timers are pooled only outside testing/synctest bubbles, since a
// timer made in a bubble belongs to it; inside one, each request makes its
// own. So a Transport works inside and outside bubbles alike.
//
// # Place in a stack
//
// Put the hedge layer below retry and above the breaker, limiter, tracing
// spans and per-attempt timeouts:
//
//   - Below retry: retry sees one outcome per attempt, the winner's, and
//     decides about it once; each retry can be hedged in turn; and the two
//     share one budget. Above retry, a hedge would duplicate the whole retry
//     loop with its waits.
//   - Above the breaker and the limiter: every hedge is an attempt they
//     admit or reject on its own, and an open breaker rejects a hedge without
//     touching the network. A loser's cancellation is neutral to the breaker.
//   - Above tracing spans: each hedge gets its own span, marked as a hedge.
//   - Above per-attempt timeouts: each hedge gets its own header and body
//     bounds; below them, one attempt's bound would cover all its hedges.
//
// # Visibility
//
// [WithOnHedge] hooks see each hedge sent and each hedge that won. Each hedge
// counts as an attempt in the record of the logical request, and inner
// layers see its context marked as a hedge. Errors returned match their
// class's [errclass] sentinel.
package hedge
