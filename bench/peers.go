package bench

import (
	"errors"
	"net/http"
	"time"

	"github.com/PuerkitoBio/rehttp"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/gojek/heimdall/v7"
	"github.com/gojek/heimdall/v7/httpclient"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// Config is the behaviour every contender is configured for, as closely as
// its library allows. The zero value means a library's own defaults for a
// field, except Attempts, which Contender.Wrap callers always set.
type Config struct {
	// Attempts is the total number of attempts of one logical request
	// (1 + retries).
	Attempts int
	// Backoff and MaxBackoff bound the exponential wait between attempts.
	Backoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt with the library's closest knob;
	// 0 means none.
	AttemptTimeout time.Duration
	// Breaker trips a breaker at a 50% failure rate over at least
	// BreakerMinRequests calls in a 10 s window and keeps it open for
	// BreakerOpen.
	BreakerMinRequests int
	BreakerOpen        time.Duration
}

// Contender is one library (or one of our layers) in a given configuration.
type Contender struct {
	// Name is the sub-benchmark name.
	Name string
	// Wrap builds the contender over base, the transport that really sends.
	Wrap func(base http.RoundTripper, cfg Config) http.RoundTripper
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Plain is net/http alone: the base transport, nothing added.
var Plain = Contender{Name: "nethttp", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper { return base }}

// RetryPeers are the retrying libraries.
var RetryPeers = []Contender{
	{Name: "retryablehttp", Wrap: RetryableHTTP},
	{Name: "rehttp", Wrap: ReHTTP},
	{Name: "heimdall", Wrap: Heimdall},
	{Name: "failsafe-retry", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
		return Failsafe(base, cfg, true, false)
	}},
}

// BreakerPeers are the circuit breakers.
var BreakerPeers = []Contender{
	{Name: "gobreaker", Wrap: GoBreaker},
	{Name: "failsafe-breaker", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
		return Failsafe(base, cfg, false, true)
	}},
}

// FailsafeRetryBreaker is failsafe-go's retry around its breaker: the peer
// closest to our standard stack.
var FailsafeRetryBreaker = Contender{Name: "failsafe-retry+breaker", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
	return Failsafe(base, cfg, true, true)
}}

// OtelHTTP is otelhttp's transport with the global (no-op unless set)
// providers.
var OtelHTTP = Contender{Name: "otelhttp", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper {
	return otelhttp.NewTransport(base)
}}

// RetryableHTTP is go-retryablehttp's RoundTripper. It nests an http.Client
// (which carries the attempt timeout), buffers request bodies and, with its
// default ErrorHandler, drops the last response; PassthroughErrorHandler
// keeps it, as the other contenders do.
func RetryableHTTP(base http.RoundTripper, cfg Config) http.RoundTripper {
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.HTTPClient = &http.Client{Transport: base, Timeout: cfg.AttemptTimeout}
	c.RetryMax = cfg.Attempts - 1
	if cfg.Backoff > 0 {
		c.RetryWaitMin, c.RetryWaitMax = cfg.Backoff, cfg.MaxBackoff
	}
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &retryablehttp.RoundTripper{Client: c}
}

// ReHTTP is rehttp's Transport retrying temporary and timeout errors and
// 429/502/503/504 for idempotent methods. It buffers request bodies.
func ReHTTP(base http.RoundTripper, cfg Config) http.RoundTripper {
	t := rehttp.NewTransport(base,
		rehttp.RetryAll(
			rehttp.RetryMaxRetries(cfg.Attempts-1),
			rehttp.RetryHTTPMethods(http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete),
			rehttp.RetryAny(
				rehttp.RetryTemporaryErr(),
				rehttp.RetryTimeoutErr(),
				rehttp.RetryStatuses(http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
			),
		),
		rehttp.ExpJitterDelay(orDefault(cfg.Backoff, 100*time.Millisecond), orDefault(cfg.MaxBackoff, time.Second)),
	)
	t.PerAttemptTimeout = cfg.AttemptTimeout
	return t
}

// Heimdall is heimdall's httpclient with an exponential retrier, adapted to a
// RoundTripper. It buffers request bodies, replaces the caller's req.Body,
// sleeps after the last failed attempt too, and returns the last response
// together with an error when every attempt failed.
func Heimdall(base http.RoundTripper, cfg Config) http.RoundTripper {
	doer := &http.Client{Transport: base, Timeout: cfg.AttemptTimeout}
	b := orDefault(cfg.Backoff, 100*time.Millisecond)
	backoff := heimdall.NewExponentialBackoff(b, orDefault(cfg.MaxBackoff, time.Second), 2, b)
	hc := httpclient.NewClient(
		httpclient.WithHTTPClient(doer),
		httpclient.WithRetryCount(cfg.Attempts-1),
		httpclient.WithRetrier(heimdall.NewRetrier(backoff)),
	)
	return rtFunc(hc.Do)
}

// Failsafe is failsafehttp's RoundTripper with its HTTP retry policy
// (configured to return the last failure and not to retry an open breaker),
// a breaker, and a per-attempt timeout policy, each when asked for. It
// buffers request bodies that are not io.ReadSeekers.
func Failsafe(base http.RoundTripper, cfg Config, withRetry, withBreaker bool) http.RoundTripper {
	var policies []failsafe.Policy[*http.Response]
	if withRetry {
		rb := failsafehttp.NewRetryPolicyBuilder().
			WithMaxAttempts(cfg.Attempts).
			AbortOnErrors(circuitbreaker.ErrOpen).
			ReturnLastFailure()
		if cfg.Backoff > 0 {
			rb = rb.WithBackoff(cfg.Backoff, cfg.MaxBackoff)
		}
		policies = append(policies, rb.Build())
	}
	if withBreaker {
		policies = append(policies, circuitbreaker.NewBuilder[*http.Response]().
			HandleIf(func(r *http.Response, err error) bool {
				return err != nil || r != nil && r.StatusCode >= 500
			}).
			WithFailureRateThreshold(0.5, uint(breakerMin(cfg)), 10*time.Second).
			WithDelay(breakerOpen(cfg)).
			Build())
	}
	if cfg.AttemptTimeout > 0 {
		policies = append(policies, timeout.New[*http.Response](cfg.AttemptTimeout))
	}
	return failsafehttp.NewRoundTripper(base, policies...)
}

var errStatus = errors.New("bench: 5xx status")

// GoBreaker is a gobreaker CircuitBreaker around base, counting 5xx
// responses and errors as failures (gobreaker only sees errors, so 5xx is
// mapped to one and back).
func GoBreaker(base http.RoundTripper, cfg Config) http.RoundTripper {
	min := uint32(breakerMin(cfg))
	cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Interval: 10 * time.Second,
		Timeout:  breakerOpen(cfg),
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= min && c.TotalFailures*2 >= c.Requests
		},
		IsSuccessful: func(err error) bool { return err == nil },
	})
	return rtFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := cb.Execute(func() (*http.Response, error) {
			resp, err := base.RoundTrip(req)
			if err == nil && resp.StatusCode >= 500 {
				return resp, errStatus
			}
			return resp, err
		})
		if errors.Is(err, errStatus) {
			return resp, nil
		}
		return resp, err
	})
}

func breakerMin(cfg Config) int {
	if cfg.BreakerMinRequests > 0 {
		return cfg.BreakerMinRequests
	}
	return 20
}

func breakerOpen(cfg Config) time.Duration {
	return orDefault(cfg.BreakerOpen, 5*time.Second)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
