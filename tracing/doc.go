// Package tracing makes HTTP clients observable: one request id, one record
// and one summary log record per logical request; one OpenTelemetry CLIENT
// span, one duration measurement and one log/slog record per attempt; and no
// secret in any of them. (The chain.* metrics of the resilience layers are
// recorded by the standard package's Observer.)
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
//		tracing.RequestID(tracing.WithLogger(logger)), // one summary per request
//		retry.Middleware(),
//		breaker.Middleware(),
//		tracing.Spans(tracing.WithLogger(logger)), // one span and one record per attempt
//	)
//
// The attempt spans are children of the span on the caller's context. With
// [WithLogicalSpan], RequestID also starts one INTERNAL span per logical
// request ("chain.request", no HTTP attribute) that parents the attempts and
// receives the events about the whole request (the standard package's
// "retry" events); without it, those events go to the caller's span when
// there is one.
//
// RequestID also starts the record of the logical request, which the layers
// below fill in: the retry layer counts the attempts and says why it gave up
// ("attempts", "budget", "not_replayable", ...). With [WithLogger] the
// record ends in one summary log record per request (see Logs).
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
//     closed, or at once when there is no response or no body to wait for
//     (otelhttp records the metric when the headers arrive but ends the span
//     at body close, and a body that is never closed leaves it open);
//   - error.type comes from a closed list (below), never a Go type name;
//   - CloseIdleConnections is forwarded (otelhttp #3543) and Unwrap returns
//     the next layer;
//   - the trace context is injected with W3C TraceContext and Baggage while
//     the global propagator was never set (otelhttp then sends nothing).
//
// Attributes: http.request.method (and http.request.method_original when the
// method is unknown), server.address, server.port, url.full (user info and
// every query value redacted), http.request.resend_count, chain.request.id,
// chain.hedge (true on an attempt the hedge layer sent as an extra copy),
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
// A response that has no body to wait for ends its span, its measurement and
// its log record when RoundTrip returns: net/http hands over http.NoBody for
// HEAD, 204, 304 and Content-Length 0, so that a caller who never closes
// such a body leaves nothing open. A 101 Switching Protocols response ends
// them at the headers too: its body is the upgraded connection, which may
// live for hours; it is handed over as it is, writable. The same holds for
// the logical span and the summary of RequestID.
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
// # Extension points
//
// As otelhttp, Spans offers: [WithFilter] (no span, metric, header or log
// record for the attempts a filter rejects, such as health checks),
// [WithSpanNameFormatter] (for "{method} {url.template}" names),
// [WithMetricAttributes] (the caller's attributes on the duration metric,
// opt-in and counted against the series bound) and [WithPropagationFilter]
// (send the trace context only to chosen destinations; by default, to all).
// [WithPhaseEvents] adds the httptrace phases (DNS, connect, TLS, first
// byte) as span events, opt-in. Options that add a function add up: given
// several times, every function is called, in order.
//
// # error.type
//
// One vocabulary for the whole module: the value is the errclass class name
// of the failure (timeout, dns, refused, reset, tls, protocol, request_body,
// breaker_open, limited, canceled when an inner layer and not the caller
// cancelled the attempt, unknown), or, following the semantic conventions,
// the status code as text ("404", "503") for a response of 400 or more. The
// same words are the retry layer's reasons and the log records' error_type.
// The timeout's phase goes to the span attribute chain.timeout.phase and is
// kept off the metric.
//
// # Metrics
//
// http.client.request.duration (unit s, the conventions' explicit buckets) is
// recorded once per attempt with http.request.method (unknown methods as
// _OTHER), server.address, server.port, http.response.status_code,
// network.protocol.name and .version, and error.type: no path, no full URL,
// no user agent. The host, the port and the status come from the network,
// so the number of distinct attribute sets is bounded by [WithMaxSeries]
// (1000 by default): past it, a new host is recorded as _OTHER, and a client
// that follows URLs from outside keeps the series of the hosts it saw first.
//
// # Logs
//
// Silent by default. With [WithLogger], RequestID writes one summary record
// per logical request, "http request", when the request ends (at the end of
// the final response body, or at once without one), with method, url
// (redacted), status (0 when none), attempts, duration (the whole request,
// waits included), error_type and phase for a failure, error (secrets
// removed), give_up (the reason retry stopped, when it did), request_id and
// trace_id/span_id. Its level: Error when the request finally failed (an
// error, or a status of 400 or more), whatever attempt failed last; Warn when
// a breaker or a limiter rejected it without sending it; Info when the
// caller cancelled it; for a success, Debug when it took one attempt and
// Info when it took more ([WithSummaryLevels] changes both).
//
// Spans writes one record per attempt, "http attempt", when the attempt
// ends (with the span), with method, url, status, duration, attempt (0 for
// the first), resend_count, hedge, error_type, phase and error, request_id
// and trace_id/span_id. Below a RequestID that writes summaries, its level is
// Debug for a success and Warn for a failure: the summary has the final
// word. Used without one, it is Info for a success, Error for a failure
// after which no attempt can follow (the last attempt retry allows, or a
// passed deadline) and Warn for other failures.
//
// # Redaction
//
// Authorization, Proxy-Authorization, Cookie and Set-Cookie, the headers named
// by [WithRedactHeaders], URL user info and query values never appear in a
// span attribute, span event, metric attribute, log record or error text that
// this package writes. No header value is recorded at all; URLs go through
// redaction, and error texts are scrubbed of the request's secrets.
package tracing
