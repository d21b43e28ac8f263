package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"

	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/tracing"
)

func drain(t *testing.T, rt http.RoundTripper, ctx context.Context, u string) {
	t.Helper()
	resp := get(t, ctx, rt, u)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
}

// TestFilter: a filtered attempt makes no span, no measurement, no log
// record and carries no trace context; filters add up.
func TestFilter(t *testing.T) {
	r := newRig(t)
	srv, seenBy := recordingServer(t, 200)
	var calls []string
	rt := tracing.New(srv.Client().Transport, r.opts(tracing.WithPropagators(propagation.TraceContext{}),
		tracing.WithFilter(func(req *http.Request) bool { calls = append(calls, "a"); return req.URL.Path != "/healthz" }),
		tracing.WithFilter(func(req *http.Request) bool { calls = append(calls, "b"); return req.URL.Path != "/metrics" }),
	)...)
	for _, p := range []string{"/healthz", "/metrics", "/api"} {
		drain(t, rt, context.Background(), srv.URL+p)
	}
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	u, _ := spanAttr(spans[0], "url.full")
	assert.Equal(t, srv.URL+"/api", u.AsString())
	require.Len(t, r.histogram(t), 1)
	assert.Equal(t, uint64(1), r.histogram(t)[0].Count)
	assert.Len(t, r.logRecords(t), 1)
	seen := seenBy()
	assert.Empty(t, seen[0].Traceparent)
	assert.Empty(t, seen[1].Traceparent)
	assert.Len(t, seen[2].Traceparent, 1)
	assert.Equal(t, []string{"a", "a", "b", "a", "b"}, calls, "every filter runs, in order, until one says no")
}

// TestSpanNameFormatter names spans "{method} {url.template}"; an empty
// name falls back to the method.
func TestSpanNameFormatter(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts(tracing.WithSpanNameFormatter(func(req *http.Request) string {
		if strings.HasPrefix(req.URL.Path, "/users/") {
			return req.Method + " /users/{id}"
		}
		return ""
	}))...)
	drain(t, rt, context.Background(), srv.URL+"/users/42")
	drain(t, rt, context.Background(), srv.URL+"/other")
	spans := r.spans.Ended()
	require.Len(t, spans, 2)
	assert.Equal(t, "GET /users/{id}", spans[0].Name())
	assert.Equal(t, "GET", spans[1].Name())
}

// TestPropagationFilter: the trace context goes only where the filter
// allows; the span is made for every attempt.
func TestPropagationFilter(t *testing.T) {
	r := newRig(t)
	srv, seenBy := recordingServer(t, 200)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	rt := tracing.New(srv.Client().Transport, r.opts(
		tracing.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		tracing.WithPropagationFilter(func(req *http.Request) bool { return req.URL.Hostname() == "127.0.0.1" }))...)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	drain(t, rt, ctx, srv.URL+"/own")
	drain(t, rt, ctx, "http://localhost:"+u.Port()+"/third-party") // same server, another name
	parent.End()
	seen := seenBy()
	require.Len(t, seen, 2)
	assert.Len(t, seen[0].Traceparent, 1, "propagated to the allowed host")
	assert.Empty(t, seen[1].Traceparent, "not propagated to another host")
	assert.Len(t, r.spans.Ended(), 3, "two attempt spans and the parent")
}

// TestMetricAttributes: the caller's attributes reach the measurement, and
// two hooks add up.
func TestMetricAttributes(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts(
		tracing.WithMetricAttributes(func(*http.Request) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("tenant", "a")} }),
		tracing.WithMetricAttributes(func(*http.Request) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("route", "/x")} }),
	)...)
	drain(t, rt, context.Background(), srv.URL)
	points := r.histogram(t)
	require.Len(t, points, 1)
	for k, want := range map[attribute.Key]string{"tenant": "a", "route": "/x"} {
		v, ok := points[0].Attributes.Value(k)
		assert.True(t, ok, "%s missing", k)
		assert.Equal(t, want, v.AsString())
	}
	for _, s := range r.spans.Ended() {
		_, ok := spanAttr(s, "tenant")
		assert.False(t, ok, "metric attributes stay off the span")
	}
}

// TestPhaseEvents: with WithPhaseEvents the span carries the phases of a
// fresh connection, and "got_conn" says a kept-alive one was reused.
func TestPhaseEvents(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	rt := tracing.New(srv.Client().Transport, r.opts(tracing.WithPhaseEvents())...)
	drain(t, rt, context.Background(), "http://localhost:"+u.Port()+"/")
	drain(t, rt, context.Background(), "http://localhost:"+u.Port()+"/")
	spans := r.spans.Ended()
	require.Len(t, spans, 2)
	names := func(i int) []string {
		var out []string
		for _, e := range spans[i].Events() {
			out = append(out, e.Name)
		}
		return out
	}
	first := names(0)
	for _, want := range []string{"dns.start", "dns.done", "connect.start", "connect.done", "got_conn", "first_byte"} {
		assert.Contains(t, first, want)
	}
	assert.Equal(t, []string{"got_conn", "first_byte"}, names(1), "a reused connection has no dial")
	gotConn := spans[1].Events()[0].Attributes
	require.Len(t, gotConn, 1)
	assert.Equal(t, tracing.ConnReusedKey, gotConn[0].Key)
	assert.True(t, gotConn[0].Value.AsBool())

	// Off by default.
	r2 := newRig(t)
	drain(t, tracing.New(srv.Client().Transport, r2.opts()...), context.Background(), srv.URL)
	assert.Empty(t, r2.spans.Ended()[0].Events())
}

// TestHedgeAttribute: an attempt marked as a hedge carries chain.hedge.
func TestHedgeAttribute(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts()...)
	drain(t, rt, context.Background(), srv.URL)
	drain(t, rt, attempt.WithHedge(context.Background()), srv.URL)
	spans := r.spans.Ended()
	require.Len(t, spans, 2)
	_, ok := spanAttr(spans[0], tracing.HedgeKey)
	assert.False(t, ok)
	v, ok := spanAttr(spans[1], tracing.HedgeKey)
	assert.True(t, ok)
	assert.True(t, v.AsBool())
	recs := r.logRecords(t)
	assert.Equal(t, true, recs[1]["hedge"])
}
