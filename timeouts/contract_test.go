package timeouts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// testRetry is a minimal retry loop for tests (the retry package may not be
// imported here): it retries any error until the context ends, waiting wait
// between attempts, and records whether each attempt saw a deadline.
type testRetry struct {
	next      http.RoundTripper
	wait      time.Duration
	mu        sync.Mutex
	attempts  int
	deadlines int
	errs      []error
}

func (r *testRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	var last error
	for range 20 {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.attempts++
		if _, ok := req.Context().Deadline(); ok {
			r.deadlines++
		}
		r.mu.Unlock()
		resp, err := r.next.RoundTrip(req)
		if err == nil {
			return resp, nil
		}
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.mu.Unlock()
		last = err
		t := time.NewTimer(r.wait)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, last
		}
	}
	return nil, last
}

// T-13: Total bounds every attempt and wait; each attempt gets the smaller of
// its bound and the time left; the end is Phase total.
func TestTotalOverAttempts(t *testing.T) {
	srv := start(t, transporttest.NewUnstartedSlowHeader(10*time.Second), false)
	inner := timeouts.New(base(t, srv), timeouts.WithAttempt(300*time.Millisecond), timeouts.WithResponseHeader(0))
	loop := &testRetry{next: inner, wait: 50 * time.Millisecond}
	var hooked atomic.Int32
	rt := timeouts.Total(time.Second, timeouts.WithOnTimeout(func(_ *http.Request, e *timeouts.Error) {
		assert.Equal(t, errclass.PhaseTotal, e.Phase)
		hooked.Add(1)
	}))(loop)
	c := &http.Client{Transport: rt}
	var err error
	took := within(t, func() { _, err = get(t, nil, c, srv.URL) })
	te := requireTimeout(t, err, errclass.PhaseTotal)
	assert.Equal(t, time.Second, te.Limit)
	assert.Equal(t, "timeouts: request did not finish in its total time within 1s", te.Error())
	assert.GreaterOrEqual(t, took, time.Second)
	loop.mu.Lock()
	defer loop.mu.Unlock()
	assert.GreaterOrEqual(t, loop.attempts, 2)
	assert.LessOrEqual(t, loop.attempts, 4)
	assert.Equal(t, loop.attempts, loop.deadlines, "every attempt sees the total deadline")
	for _, e := range loop.errs[:len(loop.errs)-1] {
		assert.Equal(t, errclass.PhaseAttempt, errclass.PhaseOf(e), "an attempt ends with its own bound: %v", e)
	}
	assert.Equal(t, int32(1), hooked.Load())
}

// Total covers the response body too; a caller deadline that comes first
// stays the caller's.
func TestTotalBodyAndCallerDeadline(t *testing.T) {
	srv := start(t, transporttest.NewUnstartedTrickle(20*time.Millisecond, 1000), false)
	c := &http.Client{Transport: timeouts.Total(300 * time.Millisecond)(base(t, srv))}
	resp, err := get(t, nil, c, srv.URL)
	require.NoError(t, err)
	within(t, func() { _, err = io.Copy(io.Discard, resp.Body) })
	resp.Body.Close()
	requireTimeout(t, err, errclass.PhaseTotal)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	resp, err = get(t, ctx, c, srv.URL)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *timeouts.Error
	assert.False(t, errors.As(err, &te), "the caller's deadline reported as ours: %v", err)
}

func TestTotalPanicsOnInvalid(t *testing.T) {
	assert.PanicsWithValue(t, "timeouts: Total(0s): must be positive", func() { timeouts.Total(0) })
}

// body records Close.
type body struct {
	io.Reader
	closed atomic.Int32
}

func (b *body) Close() error { b.closed.Add(1); return nil }

// B6: the request body is closed on success and on every error path.
func TestRequestBodyClosedEveryPath(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		next http.RoundTripper
		opts []timeouts.Option
		ctx  func() (context.Context, context.CancelFunc)
		want func(t *testing.T, err error)
	}{
		{name: "success", next: transporttest.NewScript(transporttest.Step{Body: "ok"}),
			want: func(t *testing.T, err error) { assert.NoError(t, err) }},
		{name: "next error", next: transporttest.NewScript(transporttest.Step{Err: boom}),
			want: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "header timeout", next: transporttest.NewScript(transporttest.Step{Delay: 5 * time.Second}),
			opts: []timeouts.Option{timeouts.WithResponseHeader(50 * time.Millisecond)},
			want: func(t *testing.T, err error) { requireTimeout(t, err, errclass.PhaseResponseHeader) }},
		{name: "attempt timeout", next: transporttest.NewScript(transporttest.Step{Delay: 5 * time.Second}),
			opts: []timeouts.Option{timeouts.WithAttempt(50 * time.Millisecond)},
			want: func(t *testing.T, err error) { requireTimeout(t, err, errclass.PhaseAttempt) }},
		{name: "caller cancel", next: transporttest.NewScript(transporttest.Step{Delay: 5 * time.Second}),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: func(t *testing.T, err error) { requireCanceled(t, err) }},
		{name: "nil response", next: rtFunc(func(*http.Request) (*http.Response, error) { return nil, nil }),
			want: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "timeouts: next RoundTripper returned neither")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			b := &body{Reader: strings.NewReader("payload")}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.test/", b)
			require.NoError(t, err)
			resp, err := timeouts.New(tc.next, tc.opts...).RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			tc.want(t, err)
			assert.GreaterOrEqual(t, b.closed.Load(), int32(1), "request body closed")
		})
	}
	t.Run("panic in next", func(t *testing.T) {
		b := &body{Reader: strings.NewReader("payload")}
		req, err := http.NewRequest(http.MethodPost, "http://example.test/", b)
		require.NoError(t, err)
		var hooked atomic.Int32
		tr := timeouts.New(rtFunc(func(*http.Request) (*http.Response, error) { panic("next broke") }),
			timeouts.WithResponseHeader(20*time.Millisecond), timeouts.WithAttempt(20*time.Millisecond),
			timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { hooked.Add(1) }))
		assert.PanicsWithValue(t, "next broke", func() { tr.RoundTrip(req) })
		assert.Equal(t, int32(1), b.closed.Load())
		time.Sleep(100 * time.Millisecond)
		assert.Zero(t, hooked.Load(), "the timer was stopped")
	})
}

type testKey struct{}

// A1: the caller's request is not modified.
func TestRequestNotModified(t *testing.T) {
	script := transporttest.NewScript(transporttest.Step{Body: "ok"})
	b := &body{Reader: strings.NewReader("payload")}
	ctx := context.WithValue(context.Background(), testKey{}, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/x?q=1", b)
	require.NoError(t, err)
	req.Header.Set("X-A", "1")
	getBody := req.GetBody
	resp, err := timeouts.New(script).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Same(t, b, req.Body.(*body))
	assert.Equal(t, ctx, req.Context())
	assert.Equal(t, http.Header{"X-A": {"1"}}, req.Header)
	assert.Equal(t, "http://example.test/x?q=1", req.URL.String())
	assert.Nil(t, getBody)
	assert.Nil(t, req.GetBody)
	assert.Equal(t, "payload", string(script.Seen()[0].Body))
}

// WithOnTimeout is called once per timeout, with the caller's request.
func TestOnTimeoutOnce(t *testing.T) {
	srv := start(t, transporttest.NewUnstartedStall(10), false)
	var calls []*timeouts.Error
	var mu sync.Mutex
	var seen *http.Request
	opt := timeouts.WithOnTimeout(func(r *http.Request, e *timeouts.Error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, e)
		seen = r
	})
	c := client(t, srv, timeouts.WithBodyIdle(100*time.Millisecond), opt)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	for range 3 {
		_, err = io.Copy(io.Discard, resp.Body)
		requireTimeout(t, err, errclass.PhaseBodyIdle)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 1)
	assert.Equal(t, errclass.PhaseBodyIdle, calls[0].Phase)
	assert.Same(t, req, seen)
}

// T-10: the context given to next lives until the body's EOF or Close and
// is cancelled exactly then (context.Canceled, not a deadline), and no timer
// of a finished exchange reports anything: many short exchanges with short
// bounds, then silence.
func TestContextEndsAtCloseNoLateTimer(t *testing.T) {
	var hooked, timeoutsSeen atomic.Int32
	var mu sync.Mutex
	var ctxs []context.Context
	next := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("hello")), Request: r}, nil
	})
	tr := timeouts.New(next,
		timeouts.WithResponseHeader(500*time.Millisecond), timeouts.WithBodyIdle(500*time.Millisecond),
		timeouts.WithAttempt(500*time.Millisecond),
		timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { hooked.Add(1) }))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil { // a very slow machine: allowed, but counted
					timeoutsSeen.Add(1)
					continue
				}
				ctx := resp.Request.Context()
				if !assert.NoError(t, ctx.Err(), "context alive before EOF") {
					return
				}
				if (w+i)%2 == 0 {
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						timeoutsSeen.Add(1)
					}
				}
				resp.Body.Close()
				assert.Equal(t, context.Canceled, ctx.Err(), "context cancelled at Close")
				mu.Lock()
				ctxs = append(ctxs, ctx)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	time.Sleep(600 * time.Millisecond) // past every bound of the last exchanges
	assert.Equal(t, timeoutsSeen.Load(), hooked.Load())
	for _, ctx := range ctxs {
		require.Equal(t, context.Canceled, ctx.Err())
	}
	assert.Greater(t, len(ctxs), 1000)
}

// A3: the body of a 101 response keeps io.Writer through New and Total, and
// no idle bound cuts the upgraded stream.
func TestUpgradeKeepsWriter(t *testing.T) {
	conn := &rwc{Reader: strings.NewReader("hello")}
	next := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: conn, Request: r, Header: http.Header{}}, nil
	})
	rt := timeouts.Total(time.Minute)(timeouts.New(next, timeouts.WithBodyIdle(time.Millisecond)))
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	w, ok := resp.Body.(io.Writer)
	require.True(t, ok, "the 101 body lost io.Writer")
	_, err = w.Write([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, "ping", conn.written.String())
	time.Sleep(20 * time.Millisecond)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	require.NoError(t, resp.Body.Close())
	assert.True(t, conn.closed)
}

type rwc struct {
	io.Reader
	written strings.Builder
	closed  bool
}

func (c *rwc) Write(p []byte) (int, error) { return c.written.Write(p) }
func (c *rwc) Close() error                { c.closed = true; return nil }

// A2: Unwrap and CloseIdleConnections reach the transport below.
func TestUnwrapAndCloseIdle(t *testing.T) {
	script := transporttest.NewScript()
	inner := timeouts.New(script)
	outer := timeouts.Total(time.Second)(timeouts.Middleware()(inner))
	(&http.Client{Transport: outer}).CloseIdleConnections()
	assert.Equal(t, 1, script.IdleCloses())
	u := outer.(interface{ Unwrap() http.RoundTripper }).Unwrap()
	u = u.(interface{ Unwrap() http.RoundTripper }).Unwrap()
	assert.Same(t, inner, u)
	assert.Same(t, script, inner.Unwrap())
	assert.Same(t, http.DefaultTransport, timeouts.New(nil).Unwrap())
}

// A5 with a response: a next that returns a response and an error breaks the
// contract; the response body is closed and only the error comes back.
func TestBothResponseAndError(t *testing.T) {
	b := &body{Reader: strings.NewReader("x")}
	boom := errors.New("boom")
	next := rtFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: b}, boom
	})
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	resp, err := timeouts.New(next).RoundTrip(req)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, int32(1), b.closed.Load())
}

// A3 over loopback: an upgraded connection through New and Total keeps
// io.Writer, and no idle or attempt bound cuts it.
func TestUpgradeEchoLoopback(t *testing.T) {
	srv := transporttest.NewUpgradeEcho()
	t.Cleanup(srv.Close)
	inner := timeouts.New(base(t, srv), timeouts.WithBodyIdle(50*time.Millisecond), timeouts.WithAttempt(50*time.Millisecond))
	rt := timeouts.Total(time.Minute)(inner)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	rw, ok := resp.Body.(io.ReadWriter)
	require.True(t, ok, "the 101 body lost io.Writer")
	time.Sleep(150 * time.Millisecond) // three idle bounds, three attempt bounds
	_, err = rw.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(rw, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
}
