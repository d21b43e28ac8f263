package standard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel),
// four at a time, so that on a loaded machine their own work does not
// starve the loopback exchanges of the others. The tests that look at the
// whole process (its goroutines, the global OTel providers) and the one
// whose health check pings must be answered within 200ms do not call
// t.Parallel: they run alone, before the parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(4)
	goleak.VerifyTestMain(m)
}

// fast is the retry setting of the tests: short waits, no jitter.
var fast = standard.WithRetry(retry.WithBackoff(time.Millisecond, 5*time.Millisecond, retry.JitterNone))

// telemetry is an SDK tracer provider with an in-memory exporter and a meter
// provider with a manual reader.
type telemetry struct {
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) options() []standard.Option {
	return []standard.Option{standard.WithTracerProvider(tel.tp), standard.WithMeterProvider(tel.mp)}
}

// sum returns the value of the counter named name for the data points whose
// attributes include attr (any when attr is empty).
func (tel *telemetry) sum(t *testing.T, name string, attr attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			s, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, "metric %s is %T", name, m.Data)
			for _, dp := range s.DataPoints {
				if attr.Key == "" || dp.Attributes.HasValue(attr.Key) && mustValue(dp.Attributes, attr.Key) == attr.Value.String() {
					total += dp.Value
				}
			}
		}
	}
	return total
}

func mustValue(set attribute.Set, k attribute.Key) string {
	v, _ := set.Value(k)
	return v.String()
}

func spanAttr(s sdktrace.ReadOnlySpan, k attribute.Key) (string, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestEndToEndRetriedRequest sends a request that gets 503 then 200 through
// every layer: one request id on both attempts, two client spans (the second
// with resend_count 1), both outcomes counted by the breaker, the retry
// recorded as a metric.
func TestEndToEndRetriedRequest(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: http.StatusServiceUnavailable},
		transporttest.Reply{Body: "hello"},
	))
	defer srv.Close()
	s := standard.New(append(tel.options(), fast)...)
	c := &http.Client{Transport: s}
	defer c.CloseIdleConnections()

	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parent.End()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello", string(body))

	seen := srv.Seen()
	require.Len(t, seen, 2)
	id := seen[0].Header.Get("X-Request-ID")
	require.NotEmpty(t, id)
	require.Equal(t, id, seen[1].Header.Get("X-Request-ID"), "one request id across attempts")

	var spans []sdktrace.ReadOnlySpan
	for _, sp := range tel.spans.GetSpans().Snapshots() {
		if sp.SpanKind() == trace.SpanKindClient {
			spans = append(spans, sp)
		}
	}
	require.Len(t, spans, 2, "one client span per attempt")
	_, first := spanAttr(spans[0], "http.request.resend_count")
	require.False(t, first, "no resend_count on the first attempt")
	rc, ok := spanAttr(spans[1], "http.request.resend_count")
	require.True(t, ok)
	require.Equal(t, "1", rc)
	for _, sp := range spans {
		require.Equal(t, parent.SpanContext().TraceID(), sp.SpanContext().TraceID())
		require.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), "attempt spans are children of the caller's span")
		v, ok := spanAttr(sp, "chain.request.id")
		require.True(t, ok, "span has the request id")
		require.Equal(t, id, v)
	}

	host := strings.TrimPrefix(srv.URL, "http://")
	require.Equal(t, breaker.Closed, s.Breaker().State(host))
	w := s.Breaker().Window(host)
	require.Equal(t, 2, w.Requests, "the breaker counted both attempts")
	require.Equal(t, 1, w.Failures)
	require.Equal(t, int64(1), tel.sum(t, "chain.retry.attempts", attribute.KeyValue{}))
}

// TestEndToEndTimeout sends a request to a server that never answers: the
// timeouts layer fires on each attempt, the error names the phase, each
// attempt has its span, and the timeouts are counted by phase.
func TestEndToEndTimeout(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
	defer srv.Close()
	c := standard.Client(append(tel.options(), fast,
		standard.WithTimeouts(timeouts.WithResponseHeader(100*time.Millisecond)))...)
	defer c.CloseIdleConnections()

	start := time.Now()
	_, _, err := get(t, c, srv.URL)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, errclass.Timeout, errclass.Classify(err))
	require.Equal(t, errclass.PhaseResponseHeader, errclass.PhaseOf(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var te *timeouts.Error
	require.ErrorAs(t, err, &te)
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())

	require.Equal(t, 2, srv.Stats().Requests, "a header timeout is retried once for a GET")
	require.Len(t, tel.spans.GetSpans(), 2)
	require.Equal(t, int64(2), tel.sum(t, "chain.timeouts", attribute.String("chain.timeout.phase", "response_header")))
}

// TestDefaults checks the documented defaults on the pieces.
func TestDefaults(t *testing.T) {
	t.Parallel()
	s := standard.New()
	defer s.CloseIdleConnections()
	require.NotNil(t, s.Base())
	require.Same(t, s.Base(), chain.Base(s), "chain.Base reaches the base transport")
	require.Zero(t, s.Base().ResponseHeaderTimeout, "D1: the header bound is enforced once, by the timeouts layer (its connections leave it to that layer)")
	require.NotNil(t, s.Base().HTTP2, "D4: HTTP/2 health checks")
	require.Equal(t, 30*time.Second, s.Base().HTTP2.SendPingTimeout)
	require.Equal(t, 15*time.Second, s.Base().HTTP2.PingTimeout)
	require.NotNil(t, s.Breaker())
	require.NotNil(t, s.Retry())
	require.NotNil(t, s.Budget())
	require.NotNil(t, s.Timeouts())
	require.Nil(t, s.Observer(), "no observer without a provider")

	c := standard.Client()
	require.Zero(t, c.Timeout)
	require.IsType(t, &standard.Stack{}, c.Transport)
	require.IsType(t, &standard.Stack{}, standard.Transport())
}

// TestDefaultHeaderTimeoutFires checks D1 with real time: a slow-header
// server fails with phase response_header, well before a generous bound.
func TestDefaultHeaderTimeoutFires(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
	defer srv.Close()
	c := standard.Client(fast, standard.WithRetry(retry.WithMaxAttempts(1)),
		standard.WithTimeouts(timeouts.WithResponseHeader(200*time.Millisecond)))
	defer c.CloseIdleConnections()
	start := time.Now()
	_, _, err := get(t, c, srv.URL)
	require.Equal(t, errclass.PhaseResponseHeader, errclass.PhaseOf(err), "err %v", err)
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestCallerRequestUnchanged is A1: the caller's request is identical after
// a round trip that was retried through every layer.
func TestCallerRequestUnchanged(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: http.StatusServiceUnavailable},
		transporttest.Reply{Body: "ok"},
	))
	defer srv.Close()
	s := standard.New(append(tel.options(), fast)...)
	defer s.CloseIdleConnections()

	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/p?q=1", strings.NewReader("body"))
	require.NoError(t, err)
	req.Header.Set("X-Custom", "a")
	method, u, hdr := req.Method, *req.URL, req.Header.Clone()
	reqBody, getBody, reqCtx := req.Body, req.GetBody, req.Context()

	resp, err := s.RoundTrip(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, srv.Stats().Requests)

	require.Equal(t, method, req.Method)
	require.Equal(t, u, *req.URL)
	require.Equal(t, hdr, req.Header, "no X-Request-ID, traceparent or attempt header on the caller's request")
	require.True(t, reqBody == req.Body, "body pointer unchanged")
	require.True(t, reqCtx == req.Context(), "context unchanged")
	require.NotNil(t, req.GetBody)
	require.Equal(t, reflect.ValueOf(getBody).Pointer(), reflect.ValueOf(req.GetBody).Pointer(), "GetBody unchanged")
	for _, r := range srv.Seen() {
		require.Equal(t, "body", string(r.Body))
	}
}

type ctxKey struct{}

// idleCounter is a base transport that counts CloseIdleConnections calls.
type idleCounter struct {
	http.RoundTripper
	n atomic.Int32
}

func (c *idleCounter) CloseIdleConnections() { c.n.Add(1) }

// TestCloseIdleConnectionsReachesBase is A2: http.Client.CloseIdleConnections
// reaches the base transport through every layer, spans included.
func TestCloseIdleConnectionsReachesBase(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	base := &idleCounter{RoundTripper: transporttest.NewScript()}
	c := standard.Client(append(tel.options(), standard.WithBase(base), standard.WithTotal(time.Minute))...)
	c.CloseIdleConnections()
	require.Equal(t, int32(1), base.n.Load())
	require.Same(t, base, chain.Base(c.Transport))
	require.Nil(t, c.Transport.(*standard.Stack).Base(), "the base is not an *http.Transport")
}

// TestRedirectReturnedToClient is A4: a 302 goes through the stack
// unchanged; the outer client's CheckRedirect sees it and the server gets
// one request.
func TestRedirectReturnedToClient(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusFound, Header: http.Header{"Location": {"/elsewhere"}}})
	defer srv.Close()
	c := standard.Client(fast)
	defer c.CloseIdleConnections()
	var via []string
	c.CheckRedirect = func(req *http.Request, v []*http.Request) error {
		via = append(via, req.URL.Path)
		return http.ErrUseLastResponse
	}
	resp, _, err := get(t, c, srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/elsewhere", resp.Header.Get("Location"))
	require.Equal(t, []string{"/elsewhere"}, via)
	require.Equal(t, 1, srv.Stats().Requests)
}

// TestNilNilBase is A5: a base that returns neither response nor error
// gives an error, not a panic.
func TestNilNilBase(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	base := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	c := standard.Client(append(tel.options(), standard.WithBase(base), fast)...)
	require.NotPanics(t, func() {
		resp, err := c.Get("http://127.0.0.1:1/")
		require.Error(t, err)
		require.Nil(t, resp)
	})
}

// TestLastResponseOnExhaustion is B5: after the last attempt the caller gets
// the last 503 with its body intact.
func TestLastResponseOnExhaustion(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable, Body: "try later"})
	defer srv.Close()
	c := standard.Client(fast, standard.WithRetry(retry.WithMaxAttempts(3)))
	defer c.CloseIdleConnections()
	resp, body, err := get(t, c, srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "try later", body)
	require.Equal(t, 3, srv.Stats().Requests)
}

// TestOpenBreakerUnderRetry is E7: once the breaker is open, a request is
// rejected once, with no network call and no retry.
func TestOpenBreakerUnderRetry(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusInternalServerError})
	tel := newTelemetry(t)
	var retries atomic.Int32
	s := standard.New(standard.WithBase(script), fast, standard.WithMeterProvider(tel.mp),
		standard.WithRetry(retry.WithOnRetry(func(retry.Event) { retries.Add(1) })),
		standard.WithBreaker(breaker.WithMinRequests(3), breaker.WithOpenDuration(time.Hour)))
	c := &http.Client{Transport: s}
	for range 3 {
		resp, _, err := get(t, c, "http://svc.test/")
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	}
	require.Equal(t, breaker.Open, s.Breaker().State("svc.test"))
	calls, retried := script.Calls(), retries.Load()

	_, _, err := get(t, c, "http://svc.test/")
	require.Error(t, err)
	require.ErrorIs(t, err, breaker.ErrOpen)
	require.Equal(t, errclass.BreakerOpen, errclass.Classify(err))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	require.Positive(t, oe.RetryIn)
	require.Equal(t, calls, script.Calls(), "zero network calls")
	require.Equal(t, retried, retries.Load(), "the rejection is not retried")
	require.Zero(t, script.BodiesOpen())
	require.Equal(t, int64(1), tel.sum(t, "chain.breaker.transitions", attribute.String("chain.breaker.to", "open")))
	require.Equal(t, int64(1), tel.sum(t, "chain.breaker.rejections", attribute.KeyValue{}))
}

// TestOtherHostsKeepConnections is C9: failures and retries against one host
// never tear down the kept-alive connections to another.
func TestOtherHostsKeepConnections(t *testing.T) {
	t.Parallel()
	healthy := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer healthy.Close()
	failing := transporttest.NewServer(transporttest.Reply{BodySize: 0, Fault: transporttest.ResetMidBody})
	defer failing.Close()
	down := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable})
	defer down.Close()
	c := standard.Client(fast)
	defer c.CloseIdleConnections()

	for i := range 6 {
		_, _, err := get(t, c, healthy.URL)
		require.NoError(t, err)
		get(t, c, failing.URL)
		get(t, c, down.URL)
		get(t, c, "http://"+transporttest.DeadAddr())
		require.Equal(t, 1, healthy.Stats().Connections, "round %d", i)
	}
	for _, r := range healthy.Seen() {
		require.Equal(t, 1, r.ConnID)
	}
	require.Greater(t, down.Stats().Requests, 6, "the failing host was retried")
}

// closeCounter is a request body that counts Close calls.
type closeCounter struct {
	io.Reader
	n *atomic.Int32
}

func (c closeCounter) Close() error { c.n.Add(1); return nil }

// TestRequestBodyClosed is B6 through the whole stack: the request body is
// closed on success, on a base error, on (nil, nil), and on a breaker
// rejection.
func TestRequestBodyClosed(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	cases := []struct {
		name string
		base http.RoundTripper
		opts []standard.Option
	}{
		{"success", transporttest.NewScript(), nil},
		{"error", transporttest.NewScript(transporttest.Step{Err: boom}), nil},
		{"nil-nil", chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil }), nil},
		{"breaker-open", transporttest.NewScript(transporttest.Step{Status: 500}),
			[]standard.Option{standard.WithBreaker(breaker.WithMinRequests(1), breaker.WithOpenDuration(time.Hour))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			s := standard.New(append(append(tel.options(), standard.WithBase(tc.base), fast), tc.opts...)...)
			for range 2 { // the second call of breaker-open is rejected
				var n atomic.Int32
				req, _ := http.NewRequest(http.MethodPost, "http://svc.test/", nil)
				req.Body = closeCounter{Reader: strings.NewReader("x"), n: &n}
				resp, err := s.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				}
				require.GreaterOrEqual(t, n.Load(), int32(1), "request body closed")
			}
		})
	}
}

// TestWithoutAndReplaceLayers checks the layer options.
func TestWithoutAndReplaceLayers(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusServiceUnavailable})
	var marks []string
	mark := func(name string) func(http.RoundTripper) http.RoundTripper {
		return func(next http.RoundTripper) http.RoundTripper {
			return chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
				marks = append(marks, name)
				return next.RoundTrip(r)
			})
		}
	}
	s := standard.New(standard.WithBase(script),
		standard.WithoutLayer(standard.LayerRetry, standard.LayerRequestID),
		standard.WithLayer(standard.LayerBreaker, mark("breaker")),
		standard.WithLayer(standard.LayerTotal, mark("total")),
	)
	require.Nil(t, s.Retry())
	require.Nil(t, s.Budget())
	require.Nil(t, s.Breaker())
	require.NotNil(t, s.Timeouts())
	resp, err := s.RoundTrip(httptestRequest(t))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 1, script.Calls(), "no retry layer")
	require.Equal(t, []string{"total", "breaker"}, marks, "replacements in their places")
	require.Empty(t, script.Seen()[0].Header.Get("X-Request-ID"), "no request id layer")

	require.Equal(t, "breaker", standard.LayerBreaker.String())
	require.Panics(t, func() { standard.WithLayer(standard.Layer(99), nil) })
	require.Panics(t, func() { standard.WithTotal(0) })
}

func httptestRequest(t *testing.T) *http.Request {
	t.Helper()
	return mustGet(t, "http://svc.test/")
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

// TestDeadHTTP2Connection is D4/T-15: with the base's HTTP/2 health check, a
// request on a dead HTTP/2 connection fails over to a new connection within
// the ping bounds (scaled down here), instead of hanging.
func TestDeadHTTP2Connection(t *testing.T) {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	s := standard.New(fast)
	defer s.CloseIdleConnections()
	base := s.Base()
	base.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	base.HTTP2.SendPingTimeout = 200 * time.Millisecond
	base.HTTP2.PingTimeout = 200 * time.Millisecond
	c := &http.Client{Transport: s}

	resp, _, err := get(t, c, srv.URL)
	require.NoError(t, err)
	require.Equal(t, "HTTP/2.0", resp.Proto)
	srv.Freeze()

	// The health check finds the frozen connection dead ("http2: client
	// connection lost", class Reset) within the ping bounds, far below the
	// 10 s header timeout, and retry resends the GET on a new connection.
	start := time.Now()
	resp, _, err = get(t, c, srv.URL)
	require.NoError(t, err, "the GET is resent on a new connection")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, time.Since(start), 3*time.Second, "found dead by pings, not by the 10 s header timeout")
	require.Equal(t, 2, srv.Stats().Connections, "a new connection was dialed")

	// Later requests use the new, healthy connection.
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err = c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, srv.Stats().Connections, "no further dial")
	require.Equal(t, []bool{true}, reused, "the new connection is reused")
}
