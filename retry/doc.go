// Package retry resends HTTP requests that failed in a way worth retrying,
// without burying a struggling service.
//
// A [Transport] wraps the next [http.RoundTripper] and runs the attempt loop:
// a [PolicyFunc] decides whether an outcome is worth another attempt
// ([DefaultPolicy] by default, built on [errclass]), waits follow an
// exponential backoff with jitter or the server's Retry-After, and a
// [Budget] per host keeps retries to a small share of the traffic.
//
//	client := &http.Client{Transport: retry.New(nil, retry.WithMaxAttempts(4))}
//
// # What is retried
//
// Only requests that are safe to send twice: methods GET, HEAD, OPTIONS,
// TRACE, PUT and DELETE, or any request carrying an Idempotency-Key (or
// X-Idempotency-Key) header; POST and PATCH only with [WithNonIdempotent],
// or, whatever the method, after an error that proves the request never
// reached the server (connection refused, failed dial, TLS handshake
// failure, refused HTTP/2 stream). A request with a body is retried only when
// its GetBody can produce the body again, and each attempt sends the whole
// body from a fresh GetBody. The package never buffers a body behind the
// caller's back: a request whose body cannot be replayed (Body set, GetBody
// nil) is sent exactly once, unless [WithBufferBody] opts in to keeping a
// bounded copy. [http.NewRequest] sets GetBody for *bytes.Buffer,
// *bytes.Reader and *strings.Reader bodies. As net/http asks, GetBody must
// return a new copy of the body each time, one that shares no read position
// with the others: it is called for the next attempt while the transport may
// still be reading the previous attempt's body (a GetBody that seeks one
// shared *os.File back to the start breaks this; open the file again, or use
// an io.NewSectionReader per call). If GetBody fails, the last response or
// error goes back as it is.
//
// The caller's own cancellation or deadline is never retried, nor is a
// failure of the caller's own request body (class [errclass.RequestBody]).
//
// # Refusals below
//
// A circuit breaker or a concurrency limiter below the retry layer may
// refuse an attempt without sending it (class [errclass.BreakerOpen] or
// [errclass.Limited]). Such a refusal is not an answer of the server: when
// it relays a pause ([errclass.PausedFor], a breaker sharing a server's
// Retry-After with every caller of the host), the Transport waits it out
// like a Retry-After, when it fits the cap and the deadline, and sends
// again; otherwise it stops and returns the last real response or error
// (the 429 or 503 with its Retry-After, say), with give-up reason
// [GiveUpBreakerOpen] or [GiveUpLimited]. A refused first attempt comes
// back as the refusal's error. A refused attempt counts toward
// [WithMaxAttempts] but takes no budget token.
//
// # Waits and deadlines
//
// On 429 and 503 a valid Retry-After header (delta-seconds or an HTTP date)
// replaces the backoff; if it asks for more than the cap ([WithRetryAfterCap])
// the response is returned at once. The wait is the advertised time plus a
// random extra, uniform in [0, max(100 ms, 10 % of the advertised time)),
// so that the callers a server sent away together do not come back
// together; never earlier than the server asked. A date in the past or a
// negative number of seconds means now (still with the extra); a number
// too large for a Duration is above any cap; a malformed value is ignored
// (the backoff applies).
//
// A retry is not started, nor waited for, when the wait and the least time
// of an attempt ([WithMinAttemptTime], 10 ms by default) would end after
// the request context's deadline: the last response or error is returned
// now. The check is made again after GetBody, which may be slow. The first
// attempt is always sent. Cancelling the context during a wait returns at
// once with an error that matches the context's error.
//
// # Budget
//
// Every Transport counts its requests in a [Budget] and takes a token from
// it for each retry: by default one budget per host ([KeyedBudget], each
// host's budget retries up to 10 % of its requests plus 10 per second), so
// a host in an outage cannot spend the retries of the others; [WithBudget]
// shares one Budget across hosts and Transports, [WithKeyedBudget] shares
// the per-key budgets or changes the key. When the budget is spent, the last
// response or error goes back as it is.
//
// Waits use the time package's timers, so tests drive them exactly inside a
// [testing/synctest] bubble; the random source of the jitter can be replaced
// with [WithRandom].
//
// # Bodies and errors
//
// The response returned is never read: after the last attempt the caller
// gets the last response, body intact, with a nil error. Every response
// that is not returned is drained, at most 64 KiB, on a goroutine, while
// the wait before the next attempt lasts and up to 20 ms more (so that even
// a zero wait lets its connection be reused), then closed. A copy of the
// bytes drained is kept for the one case where that response is returned
// after all (the next attempt was refused below): its body then reads the
// same bytes, ended by an error that says so when the drain could not read
// all of it. A drain whose body does not stop reading when closed never
// holds RoundTrip up: its goroutine ends when its Read returns.
//
// When attempts run out on errors, the error returned is an [*Error] that
// says how many attempts were made and why the Transport stopped, and wraps
// the last error, so errors.Is, errors.As and [errclass.Classify] see
// through it. Every error returned matches the sentinel of its class
// ([errclass.ErrNetwork], [errclass.ErrTimeout], ...). Each request that
// ends in a failure calls the [WithOnGiveUp] hooks with a [GiveUpReason],
// and writes the reason into the record of the logical request when an
// outer layer keeps one.
//
// # Inner layers
//
// Every attempt after the first sends a clone of the caller's request whose
// context carries the attempt number, read with [Attempt]; the first attempt
// sends the caller's request itself (its number, 0, is what [Attempt]
// reports when no number is set), or a clone when an outer layer numbered
// the context or [WithBufferBody] copies its body. The last attempt that
// [WithMaxAttempts] allows is also marked as last, so the tracing layer logs
// its failure as final. The caller's request is never modified.
//
// A layer below retry runs once per attempt: that is where per-attempt work
// belongs, such as signing each attempt anew (AWS SigV4 signs a timestamp)
// or fetching a fresh bearer token, what other libraries call a
// prepare-retry hook. See the Example of a signing layer.
// The retry layer never calls CloseIdleConnections by itself.
package retry
