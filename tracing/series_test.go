package tracing_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/rtchain/chain/tracing"
)

// TestSeriesBounded sends requests to 5,000 random hosts (as a crawler or
// a webhook sender does) with a fixed host in between: the duration metric
// keeps at most DefaultMaxSeries series, and the fixed host keeps its own,
// even for a status it first gets after the flood.
func TestSeriesBounded(t *testing.T) {
	r := newRig(t)
	statuses := []int{200, 404, 503}
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		code := statuses[rand.IntN(len(statuses))]
		switch req.URL.Path {
		case "/v1":
			code = 200
		case "/down":
			code = 502
		}
		return &http.Response{StatusCode: code, ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody, Request: req}, nil
	})
	rt := tracing.New(base, tracing.WithTracerProvider(r.tp), tracing.WithMeterProvider(r.mp))
	send := func(url string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	fixed := 0
	for i := range 5000 { // five times the bound: the hosts past it fold
		if i%100 == 0 {
			send("https://api.fixed.example/v1")
			fixed++
		}
		send(fmt.Sprintf("http://h%d-%d.example:%d/", i, rand.Int(), 1024+rand.IntN(60000)))
	}
	send("https://api.fixed.example/down")
	fixed++
	points := r.histogram(t)
	assert.LessOrEqual(t, len(points), tracing.DefaultMaxSeries, "series")
	assert.Greater(t, len(points), tracing.DefaultMaxSeries/2, "the bound is used, not a handful of series")
	var fixedCount uint64
	other, down := false, false
	for _, p := range points {
		host, _ := p.Attributes.Value("server.address")
		switch host.AsString() {
		case "api.fixed.example":
			port, _ := p.Attributes.Value("server.port")
			assert.Equal(t, int64(443), port.AsInt64())
			fixedCount += p.Count
			if status, _ := p.Attributes.Value("http.response.status_code"); status.AsInt64() == 502 {
				down = true
			}
		case "_OTHER":
			other = true
			assert.False(t, p.Attributes.HasValue("server.port"), "a folded series keeps no port")
		}
	}
	assert.Equal(t, uint64(fixed), fixedCount, "the fixed host keeps its own series")
	assert.True(t, down, "a known host's new status after the flood has its own series")
	assert.True(t, other, "the hosts past the bound are folded into _OTHER")
}

// TestMaxSeries: a small bound holds, with the last series all _OTHER.
func TestMaxSeries(t *testing.T) {
	r := newRig(t)
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	rt := tracing.New(base, tracing.WithTracerProvider(r.tp), tracing.WithMeterProvider(r.mp), tracing.WithMaxSeries(10),
		tracing.WithMetricAttributes(func(req *http.Request) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("tenant", req.Header.Get("Tenant"))}
		}))
	for i := range 200 {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://h%d.example/", i), nil)
		require.NoError(t, err)
		req.Header.Set("Tenant", fmt.Sprint(i%50))
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	points := r.histogram(t)
	assert.LessOrEqual(t, len(points), 10)
	var total uint64
	overflow := false
	for _, p := range points {
		total += p.Count
		if m, _ := p.Attributes.Value("http.request.method"); m.AsString() == "_OTHER" {
			overflow = true
			assert.False(t, p.Attributes.HasValue("tenant"), "the overflow series drops the caller's attributes")
		}
	}
	assert.Equal(t, uint64(200), total, "every measurement is recorded")
	assert.True(t, overflow)
}
