// Package tracing makes HTTP clients observable: one request id per logical
// request, one OpenTelemetry CLIENT span, one duration measurement and one
// log/slog record per attempt, metrics for the resilience layers, and no
// secret in any of them.
//
// # Placement
//
// [RequestID] goes outside the retry layer, so that every attempt of a request
// carries the same id; [Spans] goes inside it, so that each attempt is its own
// span, a child of the caller's span, with http.request.resend_count on
// resends (the attempt number comes from the context that retry sets; redirect
// hops, seen through req.Response, count as resends too):
//
//	rt := chain.Build(base,
//		tracing.RequestID(),
//		retry.Middleware(),
//		breaker.Middleware(),
//		tracing.Spans(tracing.WithLogger(logger)),
//	)
//
// The attempt spans are children of the span on the caller's context. With
// [WithLogicalSpan], RequestID also starts one INTERNAL span per logical
// request ("chain.request", no HTTP attribute) that parents the attempts and
// receives the "retry" events an [Observer] adds; without it, those events go
// to the caller's span when there is one.
//
// # Spans
//
// Spans is written directly against the OpenTelemetry API, not on otelhttp,
// and follows the HTTP client semantic conventions (v1.43 attribute keys),
// correcting otelhttp where it deviates:
//
//   - the span name is the method ("GET"), or "HTTP" for a method outside the
//     known set (otelhttp: "HTTP GET");
//   - server.port is always set, inferred as 80 or 443 from the scheme;
//   - http.request.resend_count is set on resends (otelhttp has none);
//   - the span ends, and http.client.request.duration is recorded, at one and
//     the same instant: when the response body reaches EOF, fails or is
//     closed, or at once when there is no response (otelhttp records the
//     metric when the headers arrive but ends the span at body close);
//   - error.type comes from a closed list (below), never a Go type name;
//   - CloseIdleConnections is forwarded (otelhttp #3543) and Unwrap returns
//     the next layer;
//   - the trace context is injected with W3C TraceContext and Baggage while
//     the global propagator was never set (otelhttp then sends nothing).
//
// Attributes: http.request.method (and http.request.method_original when the
// method is unknown), server.address, server.port, url.full (user info and
// every query value redacted), http.request.resend_count, chain.request.id,
// network.peer.address and network.peer.port (from the connection),
// http.response.status_code and network.protocol.version (from the response),
// error.type, and chain.timeout.phase for timeouts.
//
// The status stays unset below 400 and is Error for a status of 400 or more
// and for transport and body errors, including this module's own timeouts.
// A cancellation made by the caller (the request's context is cancelled)
// leaves the status unset, without error.type. An error's text reaches the
// span status only after every secret of the request was removed from it.
//
// A response body that is never closed nor read to the end keeps its span
// open until the request's context ends (is cancelled or passes its
// deadline), when the span ends with that outcome: the end of the context is
// the bound, and a request with a context that never ends (Background) keeps
// its span open until the body is closed. There is no finalizer, following
// the conventions' advice against asynchronous clean-up. Close response
// bodies, as net/http requires anyway. [WithEndAtHeaders] ends spans when
// RoundTrip returns instead, for long streams.
//
// The trace context is injected into a clone of each attempt's request, so
// the caller's request is never changed; the header is set, never added
// twice. With a no-op tracer provider and a caller context without a span,
// Spans clones nothing and adds no header.
//
// If you already wrap each attempt with otelhttp.NewTransport, pass
// [WithoutSpans]: Spans then keeps only its log record. otelhttp belongs in
// the same place as Spans, inside retry; it names spans "HTTP GET", omits
// server.port for 80 and 443, has no resend count, records its metric at
// headers but ends its span at body close, and sends no traceparent while the
// global propagator is the no-op.
//
// # error.type
//
// The values are the Error* constants of this package: timeout,
// dns_error, connection_refused, connection_reset, tls_handshake_error,
// server_certificate_invalid, request_body_error, protocol_error,
// breaker_open, canceled (an inner layer, not the caller, cancelled the
// attempt) and _OTHER, plus the status code ("404", "503") for a response of
// 400 or more. They come from errclass; the timeout's phase goes to the span
// attribute chain.timeout.phase and is kept off the metric.
//
// # Metrics
//
// http.client.request.duration (unit s, the conventions' explicit buckets) is
// recorded once per attempt with http.request.method (unknown methods as
// _OTHER), server.address, server.port, http.response.status_code,
// network.protocol.name and .version, and error.type: no path, no full URL,
// no user agent, so the number of series stays bounded. The resilience
// metrics of the other packages, in the chain.* namespace, are recorded by an
// [Observer].
//
// # Logs
//
// Silent by default. With [WithLogger], Spans writes one record per attempt,
// "http attempt", when the attempt ends (with the span), with method, url
// (redacted), status (0 when none), duration, attempt (0 for the first),
// resend_count, error_type, error_class and error (secrets removed),
// request_id and trace_id/span_id. Its level: Info when the attempt
// succeeded (status below 400, no error) or the caller cancelled it; Error
// when it failed and no further attempt can follow: it is the last attempt
// the retry layer above allows (retry marks it), or the request's deadline has
// passed; Warn for every other failure. A failure that retry gives up on for
// another reason (its policy, its budget) is logged at Warn, since Spans
// cannot know that decision when it writes the record.
//
// # Redaction
//
// Authorization, Proxy-Authorization, Cookie and Set-Cookie, the headers named
// by [WithRedactHeaders], URL user info and query values never appear in a
// span attribute, span event, metric attribute, log record or error text that
// this package writes. No header value is recorded at all; URLs go through
// redaction, and error texts are scrubbed of the request's secrets.
package tracing
