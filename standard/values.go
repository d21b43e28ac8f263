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
	attempt timeoutSettings // of the per-attempt timeouts layer
	base    timeoutSettings // of the stack's own base transport
	known   bool            // the timeouts settings could be read
	tp      bool            // the telemetry given
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
	var ok bool
	v.base, v.known = resolveTimeouts(c.timeoutOptions())
	if t := s.Timeouts(); t != nil {
		v.attempt, ok = readTimeouts(t)
		v.known = v.known && ok
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
		return v.unknown([]Setting{
			{"timeouts.WithResponseHeader", dur(a.header), dur(d.header)},
			{"timeouts.WithBodyIdle", dur(a.bodyIdle), dur(d.bodyIdle)},
			{"timeouts.WithWriteIdle", dur(a.writeIdle), dur(d.writeIdle)},
			{"timeouts.WithAttempt", dur(a.attempt), dur(d.attempt)},
			{"timeouts.WithAdaptiveBodyIdle", a.adaptiveBody.String(), d.adaptiveBody.String()},
			{"timeouts.WithAdaptiveWriteIdle", a.adaptiveWrite.String(), d.adaptiveWrite.String()},
		})
	}
	return nil
}

// baseSettings returns the rows of the stack's own base transport.
func (v *values) baseSettings(def values) []Setting {
	b, d := v.base, def.base
	return v.unknown([]Setting{
		{"timeouts.WithDNS", dur(b.dns), dur(d.dns)},
		{"timeouts.WithConnect", dur(b.connect), dur(d.connect)},
		{"timeouts.WithTLSHandshake", dur(b.tlsHandshake), dur(d.tlsHandshake)},
	})
}

// unknown marks the values of rows read from the timeouts package as
// unknown when they could not be read.
func (v *values) unknown(rows []Setting) []Setting {
	if !v.known {
		for i := range rows {
			rows[i].Value, rows[i].Default = "unknown", "unknown"
		}
	}
	return rows
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

// String writes an adaptive bound as its option's arguments.
func (a adaptiveSetting) String() string {
	if a.factor == 0 {
		return "off"
	}
	return fmt.Sprintf("%v, %v, %v", a.factor, a.floor, a.ceiling)
}

// nopTransport answers nothing; it is the base of the stack that gives the
// defaults of Config, which sends no request.
type nopTransport struct{}

func (nopTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrNotSupported
}
