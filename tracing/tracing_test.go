package tracing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func jsonDecoder(s string) *json.Decoder { return json.NewDecoder(strings.NewReader(s)) }

// stack builds RequestID → retry (3 attempts) → Spans → base.
func stack(r *rig, base http.RoundTripper, extra ...tracing.Option) http.RoundTripper {
	return tracing.NewRequestID(retryLoop{next: tracing.New(base, r.opts(extra...)...), max: 3})
}

func get(t *testing.T, ctx context.Context, rt http.RoundTripper, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	return resp
}

func TestRetriedRequest(t *testing.T) {
	r := newRig(t)
	srv, seenBy := recordingServer(t, 503, 503, 200)
	rt := stack(r, srv.Client().Transport, tracing.WithPropagators(propagation.TraceContext{}))

	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	ts, err := trace.ParseTraceState("vendor=value")
	require.NoError(t, err)
	ctx = trace.ContextWithSpanContext(ctx, parent.SpanContext().WithTraceState(ts))
	resp := get(t, ctx, rt, srv.URL+"/path")
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	parent.End()
	require.Equal(t, 200, resp.StatusCode)

	// Three CLIENT spans under the one parent, resend_count absent, 1, 2.
	var client []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = append(client, s)
		}
	}
	require.Len(t, client, 3)
	for i, s := range client {
		assert.Equal(t, "GET", s.Name())
		assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID(), "span %d parent", i)
		assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext().TraceID())
		v, ok := spanAttr(s, "http.request.resend_count")
		if i == 0 {
			assert.False(t, ok, "resend_count on the first attempt")
		} else {
			assert.True(t, ok)
			assert.Equal(t, int64(i), v.AsInt64())
		}
		status, _ := spanAttr(s, "http.response.status_code")
		et, hasET := spanAttr(s, "error.type")
		if i < 2 {
			assert.Equal(t, int64(503), status.AsInt64())
			assert.Equal(t, "503", et.AsString())
			assert.Equal(t, codes.Error, s.Status().Code)
		} else {
			assert.Equal(t, int64(200), status.AsInt64())
			assert.False(t, hasET)
			assert.Equal(t, codes.Unset, s.Status().Code)
		}
		port, _ := spanAttr(s, "server.port")
		assert.Equal(t, int64(srv.Listener.Addr().(*net.TCPAddr).Port), port.AsInt64())
		addr, _ := spanAttr(s, "server.address")
		assert.Equal(t, "127.0.0.1", addr.AsString())
		peer, _ := spanAttr(s, "network.peer.address")
		assert.Equal(t, "127.0.0.1", peer.AsString())
		ver, _ := spanAttr(s, "network.protocol.version")
		assert.Equal(t, "1.1", ver.AsString())
		id, _ := spanAttr(s, tracing.RequestIDKey)
		assert.NotEmpty(t, id.AsString())
	}

	// The server saw one traceparent per attempt, each the attempt's own span,
	// the tracestate forwarded, and the same request id three times.
	got := seenBy()
	require.Len(t, got, 3)
	for i, s := range got {
		require.Len(t, s.Traceparent, 1, "attempt %d: traceparent once", i)
		want := fmt.Sprintf("00-%s-%s-01", client[i].SpanContext().TraceID(), client[i].SpanContext().SpanID())
		assert.Equal(t, want, s.Traceparent[0])
		assert.Equal(t, "vendor=value", s.Tracestate)
		require.Len(t, s.RequestID, 1)
		assert.Equal(t, got[0].RequestID[0], s.RequestID[0])
	}

	// Three measurements, the exact semconv buckets.
	points := r.histogram(t)
	var count uint64
	for _, p := range points {
		count += p.Count
		assert.Equal(t, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}, p.Bounds)
		for _, k := range []attribute.Key{"http.request.method", "server.address", "server.port"} {
			assert.True(t, p.Attributes.HasValue(k), "metric attribute %s missing", k)
		}
	}
	assert.Equal(t, uint64(3), count)

	// One log record per attempt: warn, warn, info, with the request id and trace id.
	recs := r.logRecords(t)
	require.Len(t, recs, 3)
	for i, rec := range recs {
		assert.Equal(t, []string{"WARN", "WARN", "INFO"}[i], rec["level"])
		assert.Equal(t, got[0].RequestID[0], rec["request_id"])
		assert.Equal(t, parent.SpanContext().TraceID().String(), rec["trace_id"])
		assert.Equal(t, float64(i), rec["attempt"])
		assert.Equal(t, "GET", rec["method"])
	}
}

func TestSpanAndMetricEndTogether(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts()...)
	resp := get(t, context.Background(), rt, srv.URL)
	time.Sleep(20 * time.Millisecond) // the span must not end before the body does
	require.NoError(t, resp.Body.Close())
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	d := spans[0].EndTime().Sub(spans[0].StartTime()).Seconds()
	points := r.histogram(t)
	require.Len(t, points, 1)
	assert.GreaterOrEqual(t, d, 0.02)
	assert.InDelta(t, d, points[0].Sum, 0.001, "span and metric durations differ")
}

func TestSpanEnds(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()
	bodyErr := errors.New("read failed")
	cases := []struct {
		name     string
		consume  func(*http.Response)
		wantCode codes.Code
	}{
		{"eof", func(resp *http.Response) { _, _ = io.Copy(io.Discard, resp.Body) }, codes.Unset},
		{"close", func(resp *http.Response) { _ = resp.Body.Close() }, codes.Unset},
		{"early close", func(resp *http.Response) {
			_, _ = resp.Body.Read(make([]byte, 10))
			_ = resp.Body.Close()
		}, codes.Unset},
		{"read error", nil, codes.Error},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			base := srv.Client().Transport
			if tc.consume == nil {
				base = rtFunc(func(req *http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: req,
						Body: io.NopCloser(io.MultiReader(strings.NewReader("abc"), iotestErr(bodyErr)))}, nil
				})
				tc.consume = func(resp *http.Response) { _, _ = io.Copy(io.Discard, resp.Body) }
			}
			resp := get(t, context.Background(), tracing.New(base, r.opts()...), srv.URL)
			assert.Empty(t, r.spans.Ended(), "span ended before the body")
			assert.Empty(t, r.histogram(t), "metric recorded before the body ended")
			tc.consume(resp)
			require.Len(t, r.spans.Ended(), 1)
			assert.Equal(t, tc.wantCode, r.spans.Ended()[0].Status().Code)
			assert.Len(t, r.histogram(t), 1)
			_ = resp.Body.Close()
			assert.Len(t, r.spans.Ended(), 1, "ended twice")
			assert.Len(t, r.logRecords(t), 1, "one log record")
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
func iotestErr(err error) io.Reader          { return errReader{err} }

// timeoutError stands for this module's phase-attributed timeout errors.
type timeoutError struct{ phase errclass.Phase }

func (e timeoutError) Error() string                { return "fake: " + string(e.phase) + " timed out" }
func (e timeoutError) Timeout() bool                { return true }
func (e timeoutError) Class() errclass.Class        { return errclass.Timeout }
func (e timeoutError) TimeoutPhase() errclass.Phase { return e.phase }
func (e timeoutError) Is(target error) bool         { return target == errclass.ErrTimeout }

func TestErrorType(t *testing.T) {
	dead := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr + "/"
	}()
	fail := func(err error) http.RoundTripper {
		return rtFunc(func(*http.Request) (*http.Response, error) { return nil, err })
	}
	srv404, _ := recordingServer(t, 404)
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	untrusting := &http.Transport{}
	defer untrusting.CloseIdleConnections()
	cases := []struct {
		name      string
		base      http.RoundTripper
		url       string
		wantType  string
		wantPhase string
	}{
		{"refused", http.DefaultTransport, dead, "refused", ""},
		{"404", srv404.Client().Transport, srv404.URL, "404", ""},
		{"unknown authority", untrusting, tlsSrv.URL, "tls", ""},
		{"timeout", fail(timeoutError{errclass.PhaseResponseHeader}), "http://example.invalid/", "timeout", "response_header"},
		{"deadline", fail(context.DeadlineExceeded), "http://example.invalid/", "timeout", ""},
		{"dns", fail(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}), "http://x.invalid/", "dns", ""},
		{"reset", fail(io.ErrUnexpectedEOF), "http://example.invalid/", "reset", ""},
		{"nil response", rtFunc(func(*http.Request) (*http.Response, error) { return nil, nil }), "http://example.invalid/", "unknown", ""},
		{"other", fail(errors.New("something odd")), "http://example.invalid/", "unknown", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			rt := tracing.New(tc.base, r.opts()...)
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
			} else {
				assert.Nil(t, resp)
			}
			spans := r.spans.Ended()
			require.Len(t, spans, 1)
			et, _ := spanAttr(spans[0], "error.type")
			assert.Equal(t, tc.wantType, et.AsString())
			assert.Equal(t, codes.Error, spans[0].Status().Code)
			ph, hasPhase := spanAttr(spans[0], tracing.TimeoutPhaseKey)
			assert.Equal(t, tc.wantPhase != "", hasPhase)
			assert.Equal(t, tc.wantPhase, ph.AsString())
			points := r.histogram(t)
			require.Len(t, points, 1)
			v, _ := points[0].Attributes.Value("error.type")
			assert.Equal(t, tc.wantType, v.AsString())
			assert.False(t, points[0].Attributes.HasValue(tracing.TimeoutPhaseKey), "phase kept off the metric")
			recs := r.logRecords(t)
			require.Len(t, recs, 1)
			assert.Equal(t, "WARN", recs[0]["level"])
			assert.Equal(t, tc.wantType, recs[0]["error_type"])
		})
	}
}

func TestCallerCancel(t *testing.T) {
	t.Run("before headers", func(t *testing.T) {
		r := newRig(t)
		ctx, cancel := context.WithCancel(context.Background())
		base := rtFunc(func(req *http.Request) (*http.Response, error) {
			cancel()
			<-req.Context().Done()
			return nil, req.Context().Err()
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.invalid/", nil)
		require.NoError(t, err)
		_, err = tracing.New(base, r.opts()...).RoundTrip(req)
		require.ErrorIs(t, err, context.Canceled)
		spans := r.spans.Ended()
		require.Len(t, spans, 1)
		assert.Equal(t, codes.Unset, spans[0].Status().Code)
		_, has := spanAttr(spans[0], "error.type")
		assert.False(t, has)
		assert.Equal(t, "INFO", r.logRecords(t)[0]["level"])
	})
	t.Run("during body", func(t *testing.T) {
		r := newRig(t)
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			select {
			case <-req.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		resp := get(t, ctx, tracing.New(srv.Client().Transport, r.opts()...), srv.URL)
		cancel()
		_, err := io.Copy(io.Discard, resp.Body)
		require.ErrorIs(t, err, context.Canceled)
		_ = resp.Body.Close()
		spans := r.spans.Ended()
		require.Len(t, spans, 1)
		assert.Equal(t, codes.Unset, spans[0].Status().Code)
	})
	t.Run("body idle timeout is an error", func(t *testing.T) {
		r := newRig(t)
		base := rtFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: req,
				Body: io.NopCloser(errReader{timeoutError{errclass.PhaseBodyIdle}})}, nil
		})
		resp := get(t, context.Background(), tracing.New(base, r.opts()...), "http://example.invalid/")
		_, err := io.Copy(io.Discard, resp.Body)
		require.Error(t, err)
		spans := r.spans.Ended()
		require.Len(t, spans, 1)
		assert.Equal(t, codes.Error, spans[0].Status().Code)
		ph, _ := spanAttr(spans[0], tracing.TimeoutPhaseKey)
		assert.Equal(t, "body_idle", ph.AsString())
	})
}

func TestStatusRules(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   codes.Code
	}{{204, codes.Unset}, {302, codes.Unset}, {404, codes.Error}, {503, codes.Error}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			r := newRig(t)
			srv, _ := recordingServer(t, tc.status)
			resp := get(t, context.Background(), tracing.New(srv.Client().Transport, r.opts()...), srv.URL)
			_ = resp.Body.Close()
			require.Len(t, r.spans.Ended(), 1)
			assert.Equal(t, tc.want, r.spans.Ended()[0].Status().Code)
			level := r.logRecords(t)[0]["level"]
			if tc.want == codes.Error {
				assert.Equal(t, "WARN", level)
			} else {
				assert.Equal(t, "INFO", level)
			}
		})
	}
}

func TestRedirectCountsAsResend(t *testing.T) {
	r := newRig(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/from", func(w http.ResponseWriter, req *http.Request) { http.Redirect(w, req, "/to", http.StatusFound) })
	mux.HandleFunc("/to", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: tracing.New(srv.Client().Transport, r.opts()...)}
	resp, err := client.Get(srv.URL + "/from")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	spans := r.spans.Ended()
	require.Len(t, spans, 2)
	_, has := spanAttr(spans[0], "http.request.resend_count")
	assert.False(t, has)
	v, _ := spanAttr(spans[1], "http.request.resend_count")
	assert.Equal(t, int64(1), v.AsInt64())
}

func TestCardinalityBounded(t *testing.T) {
	r := newRig(t)
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody, Request: req}, nil
	})
	rt := tracing.New(base, tracing.WithTracerProvider(r.tp), tracing.WithMeterProvider(r.mp))
	for i := range 10000 { // 10,000 random methods and paths
		method := fmt.Sprintf("M%dX", i)
		if i%3 == 0 {
			method = "GET"
		}
		req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:8080/p/%d?q=%d", i, i), nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	points := r.histogram(t)
	assert.LessOrEqual(t, len(points), 2, "series: got %d", len(points))
	methods := map[string]bool{}
	for _, p := range points {
		v, _ := p.Attributes.Value("http.request.method")
		methods[v.AsString()] = true
		for _, kv := range p.Attributes.ToSlice() {
			assert.NotContains(t, kv.Value.String(), "/p/", "path on a metric")
		}
	}
	assert.Equal(t, map[string]bool{"GET": true, "_OTHER": true}, methods)
	names := map[string]bool{}
	for _, s := range r.spans.Ended() {
		names[s.Name()] = true
	}
	assert.Equal(t, map[string]bool{"GET": true, "HTTP": true}, names)
}

func TestCloseIdleConnectionsReachesBase(t *testing.T) {
	base := &countingBase{}
	r := newRig(t)
	client := &http.Client{Transport: tracing.NewRequestID(tracing.New(base, r.opts()...))}
	client.CloseIdleConnections()
	assert.Equal(t, int32(1), base.closeIdle.Load())
	var mw func(http.RoundTripper) http.RoundTripper = tracing.Spans()
	u, ok := mw(base).(interface{ Unwrap() http.RoundTripper })
	require.True(t, ok)
	assert.Same(t, base, u.Unwrap())
	u, ok = tracing.RequestID()(base).(interface{ Unwrap() http.RoundTripper })
	require.True(t, ok)
	assert.Same(t, base, u.Unwrap())
}

type countingBase struct{ closeIdle atomic.Int32 }

func (c *countingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}
func (c *countingBase) CloseIdleConnections() { c.closeIdle.Add(1) }

func TestCallerRequestUnchanged(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 503, 503, 200)
	rt := stack(r, srv.Client().Transport)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	defer parent.End()
	body := &closeCounter{Reader: strings.NewReader("payload")}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/x?a=b", body)
	require.NoError(t, err)
	req.GetBody = func() (io.ReadCloser, error) { return &closeCounter{Reader: strings.NewReader("payload")}, nil }
	req.Header.Set("Accept", "text/plain")
	before := *req
	hdr := req.Header.Clone()
	getBody := fmt.Sprintf("%p", req.GetBody)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, hdr, req.Header)
	assert.Equal(t, before.Method, req.Method)
	assert.Equal(t, before.URL, req.URL)
	assert.Same(t, before.Body, req.Body)
	assert.Equal(t, getBody, fmt.Sprintf("%p", req.GetBody))
	assert.Equal(t, ctx, req.Context())
}

type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func TestRequestBodyClosed(t *testing.T) {
	srv, _ := recordingServer(t, 200)
	fail := rtFunc(func(req *http.Request) (*http.Response, error) {
		_ = req.Body.Close()
		return nil, errors.New("boom")
	})
	nilResp := rtFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	for _, tc := range []struct {
		name string
		base http.RoundTripper
	}{{"success", srv.Client().Transport}, {"error", fail}, {"nil response", nilResp}} {
		for _, layer := range []string{"spans", "requestid", "spans-nospan"} {
			t.Run(tc.name+"/"+layer, func(t *testing.T) {
				r := newRig(t)
				var rt http.RoundTripper
				switch layer {
				case "spans":
					rt = tracing.New(tc.base, r.opts()...)
				case "spans-nospan":
					rt = tracing.New(tc.base, r.opts(tracing.WithoutSpans())...)
				default:
					rt = tracing.NewRequestID(tc.base)
				}
				body := &closeCounter{Reader: strings.NewReader("payload")}
				req, err := http.NewRequest(http.MethodPost, srv.URL, body)
				require.NoError(t, err)
				resp, err := rt.RoundTrip(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				assert.GreaterOrEqual(t, body.closes.Load(), int32(1), "request body not closed")
			})
		}
	}
}

func TestRequestBodyError(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200)
	req, err := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{errors.New("disk gone")})))
	require.NoError(t, err)
	req.ContentLength = 100
	_, err = tracing.New(srv.Client().Transport, r.opts()...).RoundTrip(req)
	require.Error(t, err)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	et, _ := spanAttr(spans[0], "error.type")
	assert.Equal(t, "request_body", et.AsString())
}

func TestRequestID(t *testing.T) {
	var got []string
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		got = append(got, req.Header.Get("X-Corr")+"|"+tracing.RequestIDFrom(req.Context()))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	n := 0
	rt := tracing.NewRequestID(base, tracing.WithHeader("x-corr"), tracing.WithIDGenerator(func() string { n++; return fmt.Sprint("id-", n) }))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Empty(t, req.Header.Get("X-Corr"), "caller's request changed")
	req.Header.Set("X-Corr", "mine")
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, []string{"id-1|id-1", "mine|mine"}, got)

	// A default id is long enough to be unique.
	var def string
	_, err = tracing.NewRequestID(rtFunc(func(req *http.Request) (*http.Response, error) {
		def = req.Header.Get(tracing.DefaultHeader)
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})).RoundTrip(httptest.NewRequest(http.MethodGet, "http://example.invalid/", nil))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(def), 20)
}

func TestOptionsPanic(t *testing.T) {
	assert.PanicsWithValue(t, `tracing: WithHeader(""): not a valid header name`, func() { tracing.WithHeader("") })
	assert.Panics(t, func() { tracing.WithHeader("a b") })
	assert.Panics(t, func() { tracing.WithIDGenerator(nil) })
	assert.PanicsWithValue(t, "tracing: WithMaxSeries(0): need at least 1", func() { tracing.WithMaxSeries(0) })
}

func TestWithoutSpans(t *testing.T) {
	r := newRig(t)
	srv, seenBy := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts(tracing.WithoutSpans(), tracing.WithPropagators(propagation.TraceContext{}))...)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	resp := get(t, ctx, rt, srv.URL)
	_ = resp.Body.Close()
	parent.End()
	assert.Len(t, r.spans.Ended(), 1, "only the parent span")
	assert.Empty(t, r.histogram(t))
	assert.Empty(t, seenBy()[0].Traceparent)
	recs := r.logRecords(t)
	require.Len(t, recs, 1)
	assert.Equal(t, parent.SpanContext().TraceID().String(), recs[0]["trace_id"])
}

func TestSilentByDefault(t *testing.T) {
	// No logger: nothing can be written anywhere; with a no-op tracer
	// provider no header is added and the request is not cloned.
	var sawReq *http.Request
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		sawReq = req
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	rt := tracing.New(base, tracing.WithTracerProvider(tracenoop.NewTracerProvider()))
	req := httptest.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Same(t, req, sawReq)
	assert.Empty(t, sawReq.Header)
}

func TestDefaultPropagatorIsW3C(t *testing.T) {
	// The global propagator is never set in this test binary: Spans falls
	// back to TraceContext and Baggage, and warns once.
	r := newRig(t)
	srv, seenBy := recordingServer(t, 200)
	rt := tracing.New(srv.Client().Transport, r.opts()...)
	for range 2 {
		resp := get(t, context.Background(), rt, srv.URL)
		_ = resp.Body.Close()
	}
	for _, s := range seenBy() {
		assert.Len(t, s.Traceparent, 1)
	}
	assert.Equal(t, 1, strings.Count(r.logText(), "no-op default"))
}

func TestLastAttemptFailureLogsError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ctx   func(context.Context) context.Context
		level string
	}{
		{"retry may follow", func(ctx context.Context) context.Context { return attempt.With(ctx, 1) }, "WARN"},
		{"last attempt", func(ctx context.Context) context.Context { return attempt.WithLast(ctx, 2) }, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			base := rtFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: req}, nil
			})
			req, err := http.NewRequestWithContext(tc.ctx(context.Background()), http.MethodGet, "http://example.invalid/", nil)
			require.NoError(t, err)
			resp, err := tracing.New(base, r.opts()...).RoundTrip(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			recs := r.logRecords(t)
			require.Len(t, recs, 1)
			assert.Equal(t, tc.level, recs[0]["level"])
		})
	}
}
