package standard

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
)

// values are the settings in force in the layers of a Stack, read from the
// layers themselves.
type values struct {
	total   time.Duration
	retry   retry.Settings
	hedge   hedge.Settings
	shared  bool // the hedges take the tokens of the stack's retry budget
	limit   limit.Settings
	breaker breaker.Settings
	attempt timeouts.Settings // of the per-attempt timeouts layer
	base    timeouts.Settings // of the stack's own base transport
	tp      bool              // the telemetry given
	mp      bool
	logger  bool
}

// values reads the settings in force in s, whose options are c.
func (s *Stack) values(c *config) values {
	v := values{total: c.total, tp: c.tp != nil, mp: c.mp != nil, logger: c.logger != nil}
	if r := s.Retry(); r != nil {
		v.retry = r.Settings()
	}
	if s.hedge != nil {
		v.hedge = s.hedge.Settings()
		v.shared = s.budget != nil && v.hedge.Budget == hedge.Budget(s.budget)
	}
	if s.limit != nil {
		v.limit = s.limit.Settings()
	}
	if s.breaker != nil {
		v.breaker = s.breaker.Settings()
	}
	v.base = timeouts.SettingsOf(c.timeoutOptions()...)
	if t := s.Timeouts(); t != nil {
		v.attempt = t.Settings()
	}
	return v
}

// settings returns the rows of layer l: the values of v, the defaults of
// def.
func (v *values) settings(l Layer, def values) []Setting {
	switch l {
	case LayerTotal:
		return []Setting{{"WithTotal", dur(v.total), dur(def.total)}}
	case LayerRetry:
		return retryRows(v.retry, def.retry)
	case LayerHedge:
		return []Setting{
			{"hedge.WithDelay", hedgeDelay(v.hedge), hedgeDelay(def.hedge)},
			{"hedge.WithDelayBounds", fmt.Sprintf("%v, %v", v.hedge.Floor, v.hedge.Ceiling),
				fmt.Sprintf("%v, %v", def.hedge.Floor, def.hedge.Ceiling)},
			{"hedge.WithMaxHedges", strconv.Itoa(v.hedge.MaxHedges), strconv.Itoa(def.hedge.MaxHedges)},
			{"hedge.WithBudget", hedgeBudget(*v), hedgeBudget(def)},
		}
	case LayerLimit:
		return limitRows(v.limit, def.limit)
	case LayerBreaker:
		return breakerRows(v.breaker, def.breaker)
	case LayerSpans:
		return []Setting{
			{"WithTracerProvider", onOff(v.tp), "off"},
			{"WithMeterProvider", onOff(v.mp), "off"},
			{"WithLogger", onOff(v.logger), "off"},
		}
	case LayerTimeouts:
		a, d := v.attempt, def.attempt
		return []Setting{
			{"timeouts.WithResponseHeader", dur(a.ResponseHeader), dur(d.ResponseHeader)},
			{"timeouts.WithBodyIdle", dur(a.BodyIdle), dur(d.BodyIdle)},
			{"timeouts.WithWriteIdle", dur(a.WriteIdle), dur(d.WriteIdle)},
			{"timeouts.WithAttempt", dur(a.Attempt), dur(d.Attempt)},
			{"timeouts.WithAdaptiveBodyIdle", adaptiveBound(a.AdaptiveBodyIdle), adaptiveBound(d.AdaptiveBodyIdle)},
			{"timeouts.WithAdaptiveWriteIdle", adaptiveBound(a.AdaptiveWriteIdle), adaptiveBound(d.AdaptiveWriteIdle)},
		}
	}
	return nil
}

// baseSettings returns the rows of the stack's own base transport.
func (v *values) baseSettings(def values) []Setting {
	b, d := v.base, def.base
	return []Setting{
		{"timeouts.WithDNS", dur(b.DNS), dur(d.DNS)},
		{"timeouts.WithConnect", dur(b.Connect), dur(d.Connect)},
		{"timeouts.WithTLSHandshake", dur(b.TLSHandshake), dur(d.TLSHandshake)},
	}
}

func retryRows(s, d retry.Settings) []Setting {
	return []Setting{
		{"retry.WithMaxAttempts", strconv.Itoa(s.MaxAttempts), strconv.Itoa(d.MaxAttempts)},
		{"retry.WithBackoff", backoff(s), backoff(d)},
		{"retry.WithRetryAfterCap", s.RetryAfterCap.String(), d.RetryAfterCap.String()},
		{"retry.WithMinAttemptTime", s.MinAttemptTime.String(), d.MinAttemptTime.String()},
		{"retry.WithPolicy", policy(s), policy(d)},
		{"retry.WithNonIdempotent", onOff(s.NonIdempotent), onOff(d.NonIdempotent)},
		{"retry.WithAttemptHeader", orOff(s.AttemptHeader), orOff(d.AttemptHeader)},
		{"retry.WithBufferBody", size(s.BufferBody), size(d.BufferBody)},
		{"retry.WithBudget", budget(s), budget(d)},
	}
}

func limitRows(s, d limit.Settings) []Setting {
	return []Setting{
		{"limit.WithMaxInFlight", fixed(s), fixed(d)},
		{"limit.WithAdaptive", adaptiveLimit(s), adaptiveLimit(d)},
		{"limit.WithMaxWait", dur(s.MaxWait), dur(d.MaxWait)},
		{"limit.WithMaxKeys", strconv.Itoa(s.MaxKeys), strconv.Itoa(d.MaxKeys)},
	}
}

func breakerRows(s, d breaker.Settings) []Setting {
	return []Setting{
		{"breaker.WithMinRequests", strconv.Itoa(s.MinRequests), strconv.Itoa(d.MinRequests)},
		{"breaker.WithFailureRate", rate(s.FailureRate), rate(d.FailureRate)},
		{"breaker.WithFailureWindow", s.FailureWindow.String(), d.FailureWindow.String()},
		{"breaker.WithP99", dur(s.P99), dur(d.P99)},
		{"breaker.WithSlowCall", slowCall(s), slowCall(d)},
		{"breaker.WithLatencyWindow", s.LatencyWindow.String(), d.LatencyWindow.String()},
		{"breaker.WithConcurrentFailureRate", rate(s.ConcurrentFailureRate), rate(d.ConcurrentFailureRate)},
		{"breaker.WithConcurrencyWindow", s.ConcurrencyWindow.String(), d.ConcurrencyWindow.String()},
		{"breaker.WithOpenDuration", s.OpenDuration.String(), d.OpenDuration.String()},
		{"breaker.WithHalfOpenProbes", strconv.Itoa(s.HalfOpenProbes), strconv.Itoa(d.HalfOpenProbes)},
		{"breaker.WithProbeDeadline", s.ProbeDeadline.String(), d.ProbeDeadline.String()},
		{"breaker.WithRecovery", recovery(s), recovery(d)},
		{"breaker.WithRetryAfter", dur(s.RetryAfter), dur(d.RetryAfter)},
		{"breaker.WithMaxKeys", strconv.Itoa(s.MaxKeys), strconv.Itoa(d.MaxKeys)},
	}
}

// dur writes a bound: "off" when it is 0.
func dur(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return d.String()
}

func rate(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orOff(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func size(n int64) string {
	if n == 0 {
		return "off"
	}
	return strconv.FormatInt(n, 10) + " B"
}

func backoff(s retry.Settings) string {
	return fmt.Sprintf("%v, %v, %v", s.BackoffBase, s.BackoffMax, s.Jitter)
}

func policy(s retry.Settings) string {
	if s.CustomPolicy {
		return "custom"
	}
	return "DefaultPolicy"
}

func budget(s retry.Settings) string {
	if s.Budget == "off" {
		return "off"
	}
	return fmt.Sprintf("%s: ratio %v, floor %v/s", s.Budget, s.Ratio, s.Floor)
}

func hedgeDelay(s hedge.Settings) string {
	if s.Delay > 0 {
		return s.Delay.String()
	}
	return fmt.Sprintf("P%v of the host (hedge.WithQuantile(%v))", s.Quantile*100, s.Quantile)
}

func hedgeBudget(v values) string {
	switch {
	case v.shared:
		return "the retry budget"
	case v.hedge.Budget == nil:
		return "off"
	}
	return "its own"
}

func fixed(s limit.Settings) string {
	if s.MaxInFlight == 0 {
		return "adaptive"
	}
	return strconv.Itoa(s.MaxInFlight)
}

func adaptiveLimit(s limit.Settings) string {
	if s.MaxInFlight > 0 {
		return "off"
	}
	a := s.Adaptive
	return fmt.Sprintf("min %d, max %d, initial %d, tolerance %v, interval %v, relearn %v",
		a.Min, a.Max, a.Initial, a.Tolerance, a.Interval, a.Relearn)
}

func slowCall(s breaker.Settings) string {
	if s.SlowCall == 0 {
		return "off"
	}
	return fmt.Sprintf("%v, %v", s.SlowCall, rate(s.SlowCallRate))
}

func recovery(s breaker.Settings) string {
	return fmt.Sprintf("%v, %v, %v", rate(s.RecoveryFailureRate), dur(s.RecoveryP99), rate(s.RecoveryConcurrentFailureRate))
}

// adaptiveBound writes an adaptive bound as its option's arguments.
func adaptiveBound(a timeouts.AdaptiveBound) string {
	if !a.On() {
		return "off"
	}
	return fmt.Sprintf("%v, %v, %v", a.Factor, a.Floor, a.Ceiling)
}

// nopTransport answers nothing; it is the base of the stack that gives the
// defaults of Config, which sends no request.
type nopTransport struct{}

func (nopTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrNotSupported
}
