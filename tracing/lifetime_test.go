package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/rtchain/chain/tracing"
)

// okBase answers 200 with a body nobody reads in these tests.
var okBase = rtFunc(func(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Body: io.NopCloser(strings.NewReader("unread"))}, nil
})

func TestSpanEndsWithContext(t *testing.T) {
	t.Run("caller cancel", func(t *testing.T) {
		r := newRig(t)
		ctx, cancel := context.WithCancel(context.Background())
		resp := get(t, ctx, tracing.New(okBase, r.opts()...), "http://example.invalid/")
		defer resp.Body.Close()
		require.Empty(t, r.spans.Ended())
		cancel()
		require.Eventually(t, func() bool { return len(r.spans.Ended()) == 1 }, 2*time.Second, 5*time.Millisecond)
		assert.Equal(t, codes.Unset, r.spans.Ended()[0].Status().Code)
		require.NoError(t, resp.Body.Close())
		assert.Len(t, r.spans.Ended(), 1, "ended twice")
		require.Eventually(t, func() bool { return len(r.logRecords(t)) == 1 }, 2*time.Second, 5*time.Millisecond)
	})
	t.Run("deadline", func(t *testing.T) {
		r := newRig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		resp := get(t, ctx, tracing.New(okBase, r.opts()...), "http://example.invalid/")
		defer resp.Body.Close()
		require.Eventually(t, func() bool { return len(r.spans.Ended()) == 1 }, 2*time.Second, 5*time.Millisecond)
		s := r.spans.Ended()[0]
		assert.Equal(t, codes.Error, s.Status().Code)
		et, _ := spanAttr(s, "error.type")
		assert.Equal(t, "timeout", et.AsString())
		require.Eventually(t, func() bool { return len(r.logRecords(t)) == 1 }, 2*time.Second, 5*time.Millisecond)
		recs := r.logRecords(t)
		assert.Equal(t, "ERROR", recs[0]["level"], "no attempt can follow a passed deadline")
	})
}

func TestSwitchingProtocolsKeepsWriter(t *testing.T) {
	r := newRig(t)
	var conn rwc
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: &conn, Request: req}, nil
	})
	resp := get(t, context.Background(), tracing.New(base, r.opts()...), "http://example.invalid/")
	w, ok := resp.Body.(io.Writer)
	require.True(t, ok, "101 body lost io.Writer")
	_, err := w.Write([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, "ping", conn.String())
	require.NoError(t, resp.Body.Close())
	assert.Len(t, r.spans.Ended(), 1)
}

type rwc struct{ bytes.Buffer }

func (*rwc) Close() error { return nil }

func TestSilentWithoutLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	r := newRig(t)
	fail := rtFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("boom") })
	// No WithLogger; the global propagator is the no-op, which would warn.
	rt := tracing.New(fail, tracing.WithTracerProvider(r.tp), tracing.WithMeterProvider(r.mp))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	require.Error(t, err)
	require.Len(t, r.spans.Ended(), 1, "the request went through the layer")
	assert.Empty(t, buf.String(), "the package logged without a logger")
}

func TestEndAtHeaders(t *testing.T) {
	r := newRig(t)
	resp := get(t, context.Background(), tracing.New(okBase, r.opts(tracing.WithEndAtHeaders())...), "http://example.invalid/")
	require.Len(t, r.spans.Ended(), 1, "span open after RoundTrip returned")
	assert.Len(t, r.histogram(t), 1)
	assert.Len(t, r.logRecords(t), 1)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Len(t, r.spans.Ended(), 1)
}
