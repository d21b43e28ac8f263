// Package limit bounds how many requests a client has in flight to each
// host, as an [http.RoundTripper] decorator, so that an overloaded upstream
// sheds load at the client instead of queueing it.
//
// When a server slows down, a client without a bound keeps opening
// connections and sending requests; they queue at the server, latency climbs
// for everyone until timeouts fire, and retries pile on. A [Transport] keeps
// one limit per key (by default per host, normalised as the breaker does:
// lower case, default port dropped) and rejects, or briefly queues, the
// requests above it, without touching the network:
//
//	client := &http.Client{Transport: limit.New(nil)}                           // adaptive limit per host
//	client := &http.Client{Transport: limit.New(nil, limit.WithMaxInFlight(64))} // fixed: a bulkhead per host
//
// # Fixed or adaptive
//
// [WithMaxInFlight] sets a fixed limit. By default, or with [WithAdaptive],
// each key learns its limit from the latency of its requests: it grows while
// the time to response headers stays near the key's no-load latency and
// shrinks when latency rises above it, following the gradient rule of
// Netflix's concurrency-limits and Envoy's adaptive concurrency filter.
// [Adaptive] states the rule, its parameters and their defaults.
//
// # Rejections and waits
//
// A request whose key is at its limit is rejected at once with an [*Error]
// of class [errclass.Limited]: it was not sent and its body was closed. With
// [WithMaxWait] it first waits, in arrival order, up to that bound for a
// slot; if its context ends meanwhile it fails with the context's error.
// A rejection is neutral for a circuit breaker ([errclass.Neutral]) and this
// module's retry layer does not retry it: shedding load and then resending
// it would defeat the purpose.
//
// # What holds a slot
//
// A request holds its key's slot from admission until its response body
// ends: the first Read that returns an error (io.EOF included) or Close,
// whichever comes first. A response without a body (http.NoBody), an error
// and a panic of the next RoundTripper release it when RoundTrip returns.
// The body of a 101 Switching Protocols response stays writable and holds
// its slot until it is closed.
//
// A body the caller never closes does not hold its slot for ever: once the
// request's context has ended (its deadline, a cancel, a timeouts.Total bound
// above this layer), the slot is reclaimed as soon as the key needs it, by a
// request that finds the key at its limit or one that waits for a slot. A
// body that is never closed, of a request whose context can never end
// (context.Background with no bound above), holds its slot as long as it is
// open, as it holds its connection in net/http. Close every body.
//
// # Where it goes in a stack
//
// Below retry and hedging, so that every attempt, retries and hedges
// included, takes a slot and a rejected attempt goes back to the retry layer
// (which returns it unretried); above the circuit breaker, so that the
// breaker counts only calls that were really sent, and the latency the limit
// learns from includes the per-attempt layers below it.
//
// # Figures and hooks
//
// [Transport.Stats] reports each key's limit, slots in flight, waiting
// requests and learned latencies; [Transport.Keys] lists the keys (at most
// [WithMaxKeys]). [WithOnReject] and [WithOnLimitChange] add hooks, which
// add up when given several times and run outside every lock.
//
// # Time and cost
//
// Time comes from the time package's monotonic clock, so tests drive the
// adaptive rule and the waits exactly inside a [testing/synctest] bubble
// (make the Transport inside the bubble). No goroutine is started. Below its
// limit, a request takes the key's lock twice (once to take its slot, once
// to give it back) and allocates only the response body's wrapper, none for
// a response without a body. A fixed limit reads no clock; the adaptive limit
// reads it twice for the requests it times, one in every few at high rates.
package limit
