// Package standard builds the recommended chain stack in one call, with
// documented defaults, so that
//
//	client := standard.Client()
//
// gets a bound on every phase of a request, retries with a budget, a
// circuit breaker per host and a request id, and OpenTelemetry spans and
// metrics as soon as a provider is given.
//
// # The layers, outermost first
//
// New lists the layers in this order and stacks them with chain.Build;
// [WithLayer] puts a middleware of your own in a layer's place, and
// [WithoutLayer] empties it. [Layer] names the places.
//
//	tracing.RequestID  one X-Request-ID per logical request, the same on every
//	                   attempt, and the record of the request (attempts,
//	                   give-up reason) for its summary log; outermost, so
//	                   retries and logs share it.
//	timeouts.Total     one deadline over every attempt and every wait (only
//	                   with WithTotal); above retry, so that retry sees the
//	                   deadline and never starts a wait that cannot finish.
//	retry              the attempt loop: DefaultPolicy, exponential backoff
//	                   with full jitter, Retry-After, and a retry Budget
//	                   shared by the whole stack; above the breaker, so that
//	                   every attempt is counted by the breaker and an open
//	                   breaker's rejection (never retried) ends the loop.
//	hedge              a hedge of a slow attempt, within the retry budget
//	                   (only with WithHedge); below retry, so that retry
//	                   judges the winner and each retry may be hedged, above
//	                   the limit, the breaker, the spans and the timeouts,
//	                   so that each hedge takes a slot, is counted, has its
//	                   span and its own bounds.
//	limit              a limit of requests in flight per host (only with
//	                   WithLimit); below retry, so that every attempt takes a
//	                   slot and a shed attempt goes back to retry, which does
//	                   not retry it; above the breaker, so that the breaker
//	                   counts only calls really sent and its half-open
//	                   probes are never shed.
//	breaker            one circuit per host; below retry so that each attempt
//	                   counts, above the spans so that a rejection, which
//	                   never touches the network, makes no client span.
//	tracing.Spans      one OTel client span per attempt with
//	                   http.request.resend_count, the duration metric, one
//	                   slog record per attempt (only with WithTracerProvider,
//	                   WithMeterProvider or WithLogger, each only what was
//	                   given); below retry so that attempts are not
//	                   collapsed into one span.
//	timeouts           per attempt: response header, body idle, write idle,
//	                   attempt deadline; innermost, so that what it measures
//	                   is the wire and not our own waits.
//	tlsrotate          rotating client certificates (only with WithTLS).
//	base               *http.Transport from timeouts.NewTransport: bounds on
//	                   DNS, connect and the TLS handshake, HTTP/2 ping health
//	                   checks; WithBase replaces it.
//
// # Defaults
//
// Each layer keeps its own package's defaults (see their docs), except:
//
//   - the response header timeout is [DefaultResponseHeader] (net/http has
//     none), unless an attempt bound or a total of yours covers the header
//     wait, and the body idle timeout [DefaultBodyIdle];
//   - the retry layer takes its tokens from one [retry.Budget] per Stack
//     (ratio 0.1, floor 10 retries per second), reachable with
//     [Stack.Budget], rather than the retry package's one budget per host:
//     the hedge layer spends the same tokens, and the breaker already stops
//     a failing host from taking more than its share (once its circuit is
//     open, its requests are rejected at the first attempt and never ask
//     for a token). Pass a shared one with
//     WithRetry(retry.WithBudget(b)), or one budget per host with
//     retry.WithKeyedBudget;
//   - the breaker pauses a host for a 429's or 503's Retry-After of up to
//     [DefaultRetryAfter].
//
// Options given to WithTimeouts, WithRetry, WithBreaker, WithLimit and
// WithTracing are applied after these defaults, so they override them (the
// packages' "given twice, the last wins" rule for settings; hooks add up,
// see below).
//
// # Configuration as a whole
//
// [Stack.Config] returns the settings in force in every layer, with their
// defaults and the layer that enforces each; print it for a table. New
// panics, naming both settings, on a bound that could never fire because
// another always fires first (an attempt bound above the total, a header
// bound above the attempt bound); a condition of a layer that can never
// fire, such as a breaker P99 bound above the longest header wait, is
// listed in Config's notes, never rejected. [Stack.Update] changes the
// retry, per-attempt timeouts and breaker settings at run time, atomically,
// keeping every breaker's state.
//
// # Telemetry
//
// Telemetry goes only where the caller points it; no global provider is
// ever used. Without a provider the stack makes no span and records no
// metric, and it logs nothing without WithLogger. WithLogger alone gives one
// summary record per request (attempts, final class and phase, duration, the
// reason retry gave up; at ERROR when the request finally failed) and one
// record per attempt, and still no span and no metric. WithTracerProvider
// adds one client span per attempt; WithMeterProvider adds the HTTP client
// duration metric and the chain.* metrics of the layers, recorded by an
// [Observer] whose methods are the layers' hooks: retry.WithOnRetry and
// retry.WithOnGiveUp, limit.WithOnReject, breaker.WithOnStateChange and
// breaker.WithOnReject, timeouts.WithOnTimeout; with WithLimit, the limit
// and requests in flight of each host are gauges ([ObserveLimit]).
//
// Hooks add up. Every WithOn… option of this module, given several times,
// calls each of its hooks in order: the Stack gives the Observer's hooks
// first, and a hook of your own given through WithRetry, WithLimit,
// WithBreaker or WithTimeouts runs as well; it never removes the Stack's metrics. With
// WithTLS, the chain.tls.* metrics of [ObserveTLS] (validity left, reloads,
// rotations, rejections, renewals, stale connections) are read from the
// tlsrotate source and transport themselves.
//
// # Errors
//
// Every error the Stack returns matches the sentinel of its class with
// errors.Is (errclass.ErrNetwork for DNS, refused, reset and TLS failures,
// errclass.ErrTimeout, errclass.ErrHTTPStatus), whatever layer made it, and
// still reaches its cause (a syscall.Errno, an x509 error, a *net.DNSError,
// context.DeadlineExceeded). Log errclass.Redact(err), which removes the
// secrets net/http prints in its errors (the URL's user name and query).
//
// # Pieces
//
// [New] returns a [*Stack], which is the RoundTripper and gives access to its
// pieces: [Stack.Breaker] to read circuit states, [Stack.Base] for the
// *http.Transport at the bottom, [Stack.Retry], [Stack.Budget],
// [Stack.Hedge], [Stack.Limit], [Stack.Timeouts], [Stack.TLS] and
// [Stack.Observer]; [Stack.Config] and [Stack.Update] read and change the
// settings.
// [Transport] returns the same *Stack as an http.RoundTripper. chain.Base
// also reaches the base transport through every layer.
package standard
