package standard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// logBuffer is a JSON slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the JSON records with message msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(b.String()))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else {
			require.NoError(t, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
}

// points returns the number of data points the reader holds.
func points(t *testing.T, reader *sdkmetric.ManualReader) int {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n += len(attributeSets(m))
		}
	}
	return n
}

// TestHooksAddUpWithMeterProvider: a caller's own retry, breaker and
// timeouts hooks and the Stack's metrics both fire. The Stack gives its
// hooks first and relies on every WithOn… option appending its hook
// (DESIGN contract 8), which each concern package implements.
func TestHooksAddUpWithMeterProvider(t *testing.T) {
	t.Parallel()
	t.Run("retry", func(t *testing.T) {
		tel := newTelemetry(t)
		script := transporttest.NewScript(transporttest.Step{Status: 503}, transporttest.Step{})
		var user atomic.Int32
		c := standard.Client(standard.WithBase(script), fast, standard.WithMeterProvider(tel.mp),
			standard.WithRetry(retry.WithOnRetry(func(retry.Event) { user.Add(1) })))
		_, _, err := get(t, c, "http://svc.test/")
		require.NoError(t, err)
		assert.Equal(t, int32(1), user.Load(), "the caller's hook")
		assert.Equal(t, int64(1), tel.sum(t, "chain.retry.attempts", attribute.KeyValue{}), "the Stack's metric")
	})
	t.Run("breaker", func(t *testing.T) {
		tel := newTelemetry(t)
		script := transporttest.NewScript(transporttest.Step{Status: 500})
		var changes, rejects atomic.Int32
		s := standard.New(standard.WithBase(script), fast, standard.WithMeterProvider(tel.mp),
			standard.WithRetry(retry.WithMaxAttempts(1)),
			standard.WithBreaker(breaker.WithMinRequests(3), breaker.WithOpenDuration(time.Hour),
				breaker.WithOnStateChange(func(string, breaker.State, breaker.State) { changes.Add(1) }),
				breaker.WithOnReject(func(string) { rejects.Add(1) })))
		c := &http.Client{Transport: s}
		for range 4 {
			get(t, c, "http://svc.test/")
		}
		require.Equal(t, breaker.Open, s.Breaker().State("svc.test"))
		assert.Equal(t, int32(1), changes.Load(), "the caller's state hook")
		assert.Equal(t, int32(1), rejects.Load(), "the caller's reject hook")
		assert.Equal(t, int64(1), tel.sum(t, "chain.breaker.transitions", attribute.String("chain.breaker.to", "open")))
		assert.Equal(t, int64(1), tel.sum(t, "chain.breaker.rejections", attribute.KeyValue{}))
	})
	t.Run("timeouts", func(t *testing.T) {
		tel := newTelemetry(t)
		srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
		defer srv.Close()
		var user atomic.Int32
		c := standard.Client(fast, standard.WithMeterProvider(tel.mp), standard.WithRetry(retry.WithMaxAttempts(1)),
			standard.WithTimeouts(timeouts.WithResponseHeader(100*time.Millisecond),
				timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { user.Add(1) })))
		defer c.CloseIdleConnections()
		_, _, err := get(t, c, srv.URL)
		require.Error(t, err)
		assert.Equal(t, int32(1), user.Load(), "the caller's hook")
		assert.Equal(t, int64(1), tel.sum(t, "chain.timeouts", attribute.String("chain.timeout.phase", "response_header")))
	})
}

// TestLoggerAloneUsesNoGlobalProvider: with WithLogger alone, the Stack
// logs, and makes no span and records no metric through the global
// providers, even when SDK ones are installed there; given one provider,
// it sends nothing of the other kind to the global one.
func TestLoggerAloneUsesNoGlobalProvider(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	oldTP, oldMP := otel.GetTracerProvider(), otel.GetMeterProvider()
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetTracerProvider(oldTP)
		otel.SetMeterProvider(oldMP)
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})

	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer srv.Close()
	var logs logBuffer
	c := standard.Client(fast, standard.WithLogger(newLogger(&logs)))
	defer c.CloseIdleConnections()
	_, body, err := get(t, c, srv.URL)
	require.NoError(t, err)
	require.Equal(t, "ok", body)

	assert.Len(t, logs.records(t, "http attempt"), 1, "the attempt's record")
	assert.Len(t, logs.records(t, "http request"), 1, "the summary")
	assert.Empty(t, spans.GetSpans(), "spans reached the global provider")
	assert.Zero(t, points(t, reader), "metric points reached the global provider")
	for _, r := range srv.Seen() {
		assert.Empty(t, r.Header.Get("Traceparent"), "no trace context without a tracer provider")
	}

	// One provider given: the other kind of telemetry does not go to the
	// global provider either.
	own := newTelemetry(t)
	for _, opt := range []standard.Option{standard.WithTracerProvider(own.tp), standard.WithMeterProvider(own.mp)} {
		c := standard.Client(fast, opt)
		_, _, err := get(t, c, srv.URL)
		require.NoError(t, err)
		c.CloseIdleConnections()
	}
	assert.Len(t, own.spans.GetSpans(), 1, "the span went to the provider given")
	assert.Positive(t, points(t, own.reader), "the metric went to the provider given")
	assert.Empty(t, spans.GetSpans(), "spans reached the global provider")
	assert.Zero(t, points(t, reader), "metric points reached the global provider")
}

// TestNoBodyEndsSpansThroughStack: HEAD and 204 responses end their spans
// through the whole stack although the caller never closes the body.
func TestNoBodyEndsSpansThroughStack(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		io.WriteString(w, "body")
	}))
	defer srv.Close()
	tel := newTelemetry(t)
	c := standard.Client(tel.options()...)
	defer c.CloseIdleConnections()
	resp, err := c.Head(srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = c.Get(srv.URL + "/204")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	// No Close.
	names := []string{}
	for _, s := range tel.spans.GetSpans() {
		names = append(names, s.Name)
	}
	assert.ElementsMatch(t, []string{"HEAD", "GET"}, names, "both spans ended")
}

// fakeRetry stands in for the retry layer's record writes: it resends on
// 503 up to max attempts, counts each attempt in the request's record and
// writes why it gave up.
func fakeRetry(max int) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return rtFunc(func(req *http.Request) (*http.Response, error) {
			rec := record.From(req.Context())
			for n := 0; ; n++ {
				rec.Attempt()
				resp, err := next.RoundTrip(req.Clone(attempt.With(req.Context(), n)))
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
					return resp, err
				}
				if n+1 == max {
					rec.GiveUp("attempts")
					return resp, nil
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSummaryOfFailedRequest: a request that failed after retries is
// summarised once, at ERROR, with its attempts and the give-up reason.
func TestSummaryOfFailedRequest(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{Status: 503})
	var logs logBuffer
	c := standard.Client(standard.WithBase(script), standard.WithLogger(newLogger(&logs)),
		standard.WithLayer(standard.LayerRetry, fakeRetry(3)))
	resp, _, err := get(t, c, "http://svc.test/items")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	sums := logs.records(t, "http request")
	require.Len(t, sums, 1)
	assert.Equal(t, "ERROR", sums[0]["level"])
	assert.Equal(t, float64(3), sums[0]["attempts"])
	assert.Equal(t, "attempts", sums[0]["give_up"])
	assert.Equal(t, "503", sums[0]["error_type"])
	for _, r := range logs.records(t, "http attempt") {
		assert.Equal(t, "WARN", r["level"])
	}
}

// TestRejectionSummaryAtWarn: a request that an open breaker rejected
// without sending it is summarised at WARN, the failures before at ERROR.
func TestRejectionSummaryAtWarn(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusInternalServerError})
	var logs logBuffer
	c := standard.Client(standard.WithBase(script), fast, standard.WithLogger(newLogger(&logs)),
		standard.WithRetry(retry.WithMaxAttempts(1)),
		standard.WithBreaker(breaker.WithMinRequests(3), breaker.WithOpenDuration(time.Hour)))
	for range 4 {
		get(t, c, "http://svc.test/")
	}
	require.Equal(t, 3, script.Calls())
	sums := logs.records(t, "http request")
	require.Len(t, sums, 4)
	for _, s := range sums[:3] {
		assert.Equal(t, "ERROR", s["level"])
	}
	assert.Equal(t, "WARN", sums[3]["level"])
	assert.Equal(t, "breaker_open", sums[3]["error_type"])
}

// TestTotalTimeoutRecorded: a request that runs out of its WithTotal time is
// counted by phase, and the caller's timeouts hook sees it too.
func TestTotalTimeoutRecorded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		hang := rtFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		var user atomic.Int32
		s := standard.New(standard.WithBase(hang), standard.WithMeterProvider(tel.mp), standard.WithTotal(5*time.Second),
			standard.WithTimeouts(timeouts.WithOnTimeout(func(_ *http.Request, e *timeouts.Error) {
				if e.Phase == errclass.PhaseTotal {
					user.Add(1)
				}
			})))
		_, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
		require.Equal(t, errclass.PhaseTotal, errclass.PhaseOf(err), "err %v", err)
		assert.Equal(t, int64(1), tel.sum(t, "chain.timeouts", attribute.String("chain.timeout.phase", "total")))
		assert.Equal(t, int32(1), user.Load(), "the caller's hook")
	})
}
