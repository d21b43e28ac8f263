package tracing_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/tracing"
)

func TestLogicalSpan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		wantCode codes.Code
		wantType string
	}{
		{"recovers", []int{503, 503, 200}, codes.Unset, ""},
		{"exhausted", []int{503}, codes.Error, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			srv, _ := recordingServer(t, tc.statuses...)
			// A hook that adds a span event about the whole request, as the
			// standard package's Observer does on retries.
			loop := retryLoop{next: tracing.New(srv.Client().Transport, r.opts()...), max: 3,
				onRetry: func(ctx context.Context, n int) { trace.SpanFromContext(ctx).AddEvent("retry") }}
			rt := tracing.NewRequestID(loop, tracing.WithLogicalSpan(), tracing.WithTracerProvider(r.tp))
			resp := get(t, context.Background(), rt, srv.URL)
			for _, s := range r.spans.Ended() {
				require.NotEqual(t, tracing.LogicalSpanName, s.Name(), "logical span ended before the body")
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())

			var logical sdktrace.ReadOnlySpan
			var attempts []sdktrace.ReadOnlySpan
			for _, s := range r.spans.Ended() {
				if s.Name() == tracing.LogicalSpanName {
					logical = s
				} else {
					attempts = append(attempts, s)
				}
			}
			require.NotNil(t, logical)
			assert.Equal(t, trace.SpanKindInternal, logical.SpanKind())
			assert.False(t, logical.Parent().IsValid(), "no caller span: the logical span is the root")
			require.Len(t, attempts, 3)
			for _, s := range attempts {
				assert.Equal(t, trace.SpanKindClient, s.SpanKind())
				assert.Equal(t, logical.SpanContext().SpanID(), s.Parent().SpanID())
			}
			for _, kv := range logical.Attributes() {
				assert.NotContains(t, string(kv.Key), "http.", "HTTP attribute on the logical span")
			}
			var events int
			for _, e := range logical.Events() {
				if e.Name == "retry" {
					events++
				}
			}
			assert.Equal(t, 2, events)
			assert.Equal(t, tc.wantCode, logical.Status().Code)
			et, _ := spanAttr(logical, "error.type")
			assert.Equal(t, tc.wantType, et.AsString())
		})
	}
}

func TestLogicalSpanOnError(t *testing.T) {
	r := newRig(t)
	rt := tracing.NewRequestID(rtFunc(func(*http.Request) (*http.Response, error) { return nil, io.ErrUnexpectedEOF }),
		tracing.WithLogicalSpan(), tracing.WithTracerProvider(r.tp))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	require.Error(t, err)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Error, spans[0].Status().Code)
	et, _ := spanAttr(spans[0], "error.type")
	assert.Equal(t, "reset", et.AsString())
}
