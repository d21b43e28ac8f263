// Package chain composes http.RoundTripper middleware into a client transport
// that survives the real network: layered timeouts, retries with backoff and a
// budget, per-host circuit breakers, TLS certificate rotation, tracing, and error
// classification, each in a package of its own.
//
// Everything is an [http.RoundTripper] that wraps another, so a stack drops into
// any [http.Client] (or any library that accepts a transport) unchanged:
//
//	client := &http.Client{Transport: chain.Build(base, mws...)}
//
// # Layers
//
// [Build] stacks middleware on a base transport; the first middleware given is
// the outermost. The order we recommend, outer to inner:
//
//	tracing.RequestID     one id per logical request, the same on every attempt
//	timeouts.Total        one deadline over every attempt and every wait
//	retry                 the attempt loop: policy, backoff+jitter, Retry-After, budget
//	hedge (opt-in)        a second attempt after the host's usual latency, budgeted
//	limit (opt-in)        a limit of requests in flight per host; sheds at the client
//	breaker               per host; counts every attempt; rejects fast when open
//	tracing.Spans         one OpenTelemetry client span and one log record per attempt
//	timeouts              per attempt: response header, body idle, write idle, attempt
//	base *http.Transport  from timeouts.NewTransport: DNS, connect, TLS handshake bounds,
//	                      client certificates from tlsrotate
//
// Why this order:
//
//   - The request id sits outside retry so that every attempt carries the same id,
//     and the total deadline sits outside retry so that it covers the waits between
//     attempts too (retry never starts a wait that cannot end before it).
//   - The breaker sits inside retry so that it sees, and counts, every attempt,
//     and so that an open circuit answers each attempt at once; retry knows that a
//     breaker rejection (errclass.BreakerOpen) is never worth retrying.
//   - Hedges and the limit sit between retry and the breaker: each attempt and each
//     hedge takes a slot of the limit, an attempt the limit sheds (errclass.Limited)
//     goes back to retry unsent and is not retried, and the breaker counts only the
//     calls really sent.
//   - Spans sit inside retry and the breaker, so there is one span per attempt that
//     reached the network, with its resend count.
//   - Per-attempt timeouts sit closest to the wire, so the error they return names
//     the phase that hung and the layers above can classify it.
//
// The package standard builds this stack in one call with documented defaults.
//
// # The contract every layer keeps
//
//   - The caller's *http.Request is never modified: a layer that changes headers or
//     the context works on req.Clone. The request body is closed on every path.
//   - A layer returns a response or an error, never both, and never turns a status
//     code into an error (errclass.FromResponse does that for callers who want it).
//     A response body handed to the caller is never read by a layer.
//   - Unwrap() returns the next layer, so [Base] reaches the *http.Transport at the
//     bottom, and CloseIdleConnections is forwarded down, as [http.Client] expects.
//   - Errors wrap their causes: errors.Is(err, context.DeadlineExceeded),
//     errors.As(err, &opErr) and errclass.Classify(err) work through every layer
//     and through *url.Error.
//   - Every layer is safe for concurrent use and starts no goroutine that outlives
//     its request.
//
// # Packages
//
// errclass says what went wrong, as data. timeouts, retry, limit, breaker,
// tlsrotate and tracing are the concerns; each can be used alone, with New(next, opts...), or
// stacked with Middleware(opts...). transporttest has fake servers and a scripted
// RoundTripper that reproduce network failures in tests.
package chain
