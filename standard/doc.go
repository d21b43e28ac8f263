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
//     none) and the body idle timeout [DefaultBodyIdle];
//   - the retry layer takes its tokens from one [retry.Budget] per Stack
//     (ratio 0.1, floor 10 retries per second), reachable with
//     [Stack.Budget]; pass a shared one with WithRetry(retry.WithBudget(b)).
//
// Options given to WithTimeouts, WithRetry, WithBreaker and WithTracing are
// applied after these defaults, so they override them (the packages'
// "given twice, the last wins" rule for settings; hooks add up, see below).
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
// [Observer] whose methods are the layers' hooks: retry.WithOnRetry,
// breaker.WithOnStateChange and breaker.WithOnReject, timeouts.WithOnTimeout.
//
// Hooks add up. Every WithOn… option of this module, given several times,
// calls each of its hooks in order: the Stack gives the Observer's hooks
// first, and a hook of your own given through WithRetry, WithBreaker or
// WithTimeouts runs as well; it never removes the Stack's metrics. With
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
// [Stack.Timeouts] and [Stack.Observer]. [Transport] returns the same
// *Stack as an http.RoundTripper. chain.Base also reaches the base
// transport through every layer.
package standard
