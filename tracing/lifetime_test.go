package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// TestNoBodyEndsAtReturn: a response without a body (net/http gives
// http.NoBody for HEAD, 204, 304 and Content-Length 0) ends the attempt
// span, its measurement, its log record, the logical span and the summary
// when RoundTrip returns, although the caller never closes the body.
func TestNoBodyEndsAtReturn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/empty":
			w.Header().Set("Content-Length", "0")
		default:
			io.WriteString(w, "a body a HEAD never gets")
		}
	}))
	defer srv.Close()
	for _, tc := range []struct{ method, path string }{
		{http.MethodHead, "/"}, {http.MethodGet, "/204"}, {http.MethodGet, "/304"}, {http.MethodGet, "/empty"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			r := newRig(t)
			rt := tracing.NewRequestID(tracing.New(srv.Client().Transport, r.opts()...),
				tracing.WithLogicalSpan(), tracing.WithTracerProvider(r.tp), tracing.WithLogger(r.logger))
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			require.NoError(t, err)
			require.Equal(t, http.NoBody, resp.Body, "net/http's body is handed over as it is")
			// No Close, no Read.
			names := map[string]bool{}
			for _, s := range r.spans.Ended() {
				names[s.Name()] = true
			}
			assert.Equal(t, map[string]bool{tc.method: true, tracing.LogicalSpanName: true}, names, "spans ended")
			require.Len(t, r.histogram(t), 1, "duration recorded")
			assert.Len(t, r.logRecords(t), 1, "attempt record written")
			assert.Len(t, r.summaries(t), 1, "summary written")
		})
	}
}

// TestSwitchingProtocolsEndsAtHeaders: a 101 hands the connection over;
// its span ends when RoundTrip returns (documented), and the body keeps
// io.Writer.
func TestSwitchingProtocolsEndsAtHeaders(t *testing.T) {
	r := newRig(t)
	var conn rwc
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: &conn, Request: req}, nil
	})
	resp := get(t, context.Background(), tracing.New(base, r.opts()...), "http://example.invalid/")
	assert.Len(t, r.spans.Ended(), 1, "span ended at the headers")
	_, ok := resp.Body.(io.Writer)
	assert.True(t, ok, "101 body lost io.Writer")
	require.NoError(t, resp.Body.Close())
	assert.Len(t, r.spans.Ended(), 1)
}
