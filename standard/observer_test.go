package standard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
)

// series returns, per metric name, the value of each series keyed by its
// encoded attributes.
func (tel *telemetry) series(t *testing.T) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	out := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			series := map[string]int64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			default:
				continue
			}
			out[m.Name] = series
		}
	}
	return out
}

func TestObserver(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	o := standard.NewObserver(tel.mp, standard.MaxAttributeValues(10))
	for i := range 100 {
		key := fmt.Sprintf("host-%d.example", i)
		o.OnStateChange(key, breaker.Closed, breaker.Open)
		o.OnReject(key)
		if i%2 == 0 {
			o.OnStateChange(key, breaker.Open, breaker.HalfOpen)
		}
	}
	req, err := http.NewRequest(http.MethodGet, "http://h.example/", nil)
	require.NoError(t, err)
	ctx, span := tel.tp.Tracer("test").Start(context.Background(), "logical")
	o.OnRetry(retry.Event{Request: req.WithContext(ctx), Attempt: 1, Wait: time.Second, Reason: "503"})
	span.End()
	o.OnRetry(retry.Event{Request: req, Attempt: 2, Wait: time.Second, Reason: "503"})
	o.OnRetry(retry.Event{Request: req, Attempt: 1, Wait: time.Second, Reason: "reset"})
	o.OnTimeout(req, &timeouts.Error{Phase: errclass.PhaseBodyIdle})
	o.OnTimeout(req, &timeouts.Error{Phase: errclass.Phase("made up")})

	spans := tel.spans.GetSpans()
	require.Len(t, spans, 1)
	require.Len(t, spans[0].Events, 1, "the retry event on the request's span")
	assert.Equal(t, "retry", spans[0].Events[0].Name)

	got := tel.series(t)
	trans := got["chain.breaker.transitions"]
	keys := map[string]bool{}
	var total int64
	for enc, v := range trans {
		total += v
		for _, part := range strings.Split(enc, ",") {
			if k, v, _ := strings.Cut(part, "="); k == "chain.breaker.key" {
				keys[v] = true
			}
		}
	}
	assert.Len(t, keys, 11, "10 keys and _OTHER")
	assert.True(t, keys["_OTHER"])
	assert.Equal(t, int64(150), total)
	assert.Contains(t, trans, "chain.breaker.from=open,chain.breaker.key=host-0.example,chain.breaker.to=half_open")
	assert.Len(t, got["chain.breaker.rejections"], 11)
	assert.Equal(t, map[string]int64{"": 50}, got["chain.breaker.open"])
	assert.Equal(t, map[string]int64{"chain.retry.reason=503": 2, "chain.retry.reason=reset": 1}, got["chain.retry.attempts"])
	assert.Equal(t, map[string]int64{"chain.timeout.phase=body_idle": 1, "chain.timeout.phase=_OTHER": 1}, got["chain.timeouts"])
	for name := range got {
		assert.NotContains(t, name, "http.", "resilience metric in the http namespace")
	}
}

func TestNilObserver(t *testing.T) {
	t.Parallel()
	var o *standard.Observer
	require.NotPanics(t, func() {
		o.OnRetry(retry.Event{})
		o.OnStateChange("k", breaker.Closed, breaker.Open)
		o.OnReject("k")
		o.OnTimeout(nil, &timeouts.Error{})
	})
	assert.Panics(t, func() { standard.MaxAttributeValues(0) })
	// No provider: nothing is recorded, and nothing panics.
	require.NotPanics(t, func() { standard.NewObserver(nil).OnReject("k") })
}

func TestObserverGiveUpsAndLimits(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	o := standard.NewObserver(tel.mp, standard.MaxAttributeValues(2))
	for _, r := range []retry.GiveUpReason{retry.GiveUpBudget, retry.GiveUpBudget, retry.GiveUpLimited, "made up"} {
		o.OnGiveUp(retry.GiveUp{Reason: r})
	}
	for _, k := range []string{"a.test", "b.test", "a.test", "c.test"} {
		o.OnLimitReject(k)
	}
	got := tel.series(t)
	assert.Equal(t, map[string]int64{"chain.retry.give_up_reason=budget": 2, "chain.retry.give_up_reason=limited": 1,
		"chain.retry.give_up_reason=_OTHER": 1}, got["chain.retry.give_ups"])
	assert.Equal(t, map[string]int64{"server.address=a.test": 2, "server.address=b.test": 1,
		"server.address=_OTHER": 1}, got["chain.limit.rejections"], "hosts bounded by MaxAttributeValues")

	var nilObs *standard.Observer
	require.NotPanics(t, func() {
		nilObs.OnGiveUp(retry.GiveUp{})
		nilObs.OnLimitReject("k")
	})
}

// TestStackRecordsGiveUpsAndLimits: the Stack wires the Observer to retry's
// give-ups and to the limit layer, whose limits and requests in flight are
// gauges per host.
func TestStackRecordsGiveUpsAndLimits(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	base := rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "slow.test" {
			entered <- struct{}{}
			<-release
		}
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: r}, nil
	})
	s := standard.New(standard.WithBase(base), fast, standard.WithMeterProvider(tel.mp),
		standard.WithLimit(limit.WithMaxInFlight(1)), standard.WithRetry(retry.WithMaxAttempts(2)))
	resp, err := s.RoundTrip(mustGet(t, "http://fast.test/"))
	require.NoError(t, err)
	resp.Body.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := s.RoundTrip(mustGet(t, "http://slow.test/")); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	_, err = s.RoundTrip(mustGet(t, "http://slow.test/"))
	require.Error(t, err, "shed")
	got := tel.series(t)
	assert.Equal(t, map[string]int64{"server.address=fast.test": 1, "server.address=slow.test": 1}, got["chain.limit.limit"])
	assert.Equal(t, map[string]int64{"server.address=fast.test": 0, "server.address=slow.test": 1}, got["chain.limit.in_flight"])
	assert.Equal(t, map[string]int64{"server.address=slow.test": 1}, got["chain.limit.rejections"])
	assert.Equal(t, map[string]int64{"chain.retry.give_up_reason=attempts": 1, "chain.retry.give_up_reason=limited": 1},
		got["chain.retry.give_ups"])
	close(release)
	<-done
}
