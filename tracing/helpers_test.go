package tracing_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/tracing"
)

// rig holds the SDK providers with in-memory exporters and a JSON log buffer.
type rig struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	mu     sync.Mutex // guards logs
	logs   bytes.Buffer
	logger *slog.Logger
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.logger = slog.New(slog.NewJSONHandler(lockedWriter{r}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		_ = r.tp.Shutdown(context.Background())
		_ = r.mp.Shutdown(context.Background())
	})
	return r
}

type lockedWriter struct{ r *rig }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.logs.Write(p)
}

func (r *rig) opts(extra ...tracing.Option) []tracing.Option {
	return append([]tracing.Option{tracing.WithTracerProvider(r.tp), tracing.WithMeterProvider(r.mp),
		tracing.WithLogger(r.logger)}, extra...)
}

func (r *rig) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// logRecords returns the per-attempt JSON log records written so far.
func (r *rig) logRecords(t *testing.T) []map[string]any {
	t.Helper()
	return r.records(t, "http attempt")
}

// summaries returns the summary records of logical requests written so far.
func (r *rig) summaries(t *testing.T) []map[string]any {
	t.Helper()
	return r.records(t, "http request")
}

// records returns the JSON log records with message msg written so far.
func (r *rig) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := jsonDecoder(r.logText())
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

// metrics collects what the manual reader holds.
func (r *rig) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	return rm
}

// histogram returns the data points of http.client.request.duration.
func (r *rig) histogram(t *testing.T) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "http.client.request.duration" {
				require.Equal(t, "s", m.Unit)
				h, ok := m.Data.(metricdata.Histogram[float64])
				require.True(t, ok, "got %T", m.Data)
				return h.DataPoints
			}
		}
	}
	return nil
}

// spanAttr returns the value of key on a span, and whether it is there.
func spanAttr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// retryLoop is a tiny stand-in for the retry package: it resends on 503 and
// on errors, up to max attempts, putting the attempt number on each
// attempt's context, counting each attempt in the request's record and
// writing its give-up reason there, as retry does.
type retryLoop struct {
	next    http.RoundTripper
	max     int
	onRetry func(ctx context.Context, attempt int) // optional hook, like retry.WithOnRetry
}

func (l retryLoop) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := record.From(req.Context())
	for n := 0; ; n++ {
		rec.Attempt()
		r := req.Clone(attempt.With(req.Context(), n))
		resp, err := l.next.RoundTrip(r)
		if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
			return resp, err
		}
		if n+1 >= l.max {
			rec.GiveUp("attempts")
			return resp, err
		}
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if l.onRetry != nil {
			l.onRetry(req.Context(), n+1)
		}
	}
}

// seen is what a recording server saw of each request.
type seen struct {
	Traceparent []string
	Tracestate  string
	RequestID   []string
}

// recordingServer answers with the statuses in order (the last repeats) and
// records the trace and request id headers of each request.
func recordingServer(t *testing.T, statuses ...int) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := len(got)
		got = append(got, seen{Traceparent: r.Header.Values("Traceparent"), Tracestate: r.Header.Get("Tracestate"),
			RequestID: r.Header.Values("X-Request-Id")})
		mu.Unlock()
		if i >= len(statuses) {
			i = len(statuses) - 1
		}
		w.WriteHeader(statuses[i])
		_, _ = io.WriteString(w, "body")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), got...)
	}
}

// rtFunc adapts a function to http.RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
