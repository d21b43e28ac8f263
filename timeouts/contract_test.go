package timeouts_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// body records Close.
type body struct {
	io.Reader
	closed atomic.Int32
}

func (b *body) Close() error { b.closed.Add(1); return nil }

// B6: the request body is closed on success and on every error path.
func TestRequestBodyClosedEveryPath(t *testing.T) {
	t.Parallel()
	for _, tc := range bodyClosedCases() {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if tc.ctx != nil {
					ctx, cancel = tc.ctx()
				}
				defer cancel()
				b := &body{Reader: strings.NewReader("payload")}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.test/", b)
				require.NoError(t, err)
				resp, err := timeouts.New(tc.next(), tc.opts...).RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				tc.want(t, err)
				assert.GreaterOrEqual(t, b.closed.Load(), int32(1), "request body closed")
			})
		})
	}
	t.Run("panic in next", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := &body{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPost, "http://example.test/", b)
			require.NoError(t, err)
			var hooked atomic.Int32
			tr := timeouts.New(rtFunc(func(*http.Request) (*http.Response, error) { panic("next broke") }),
				timeouts.WithResponseHeader(20*ms), timeouts.WithAttempt(20*ms),
				timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { hooked.Add(1) }))
			assert.PanicsWithValue(t, "next broke", func() { tr.RoundTrip(req) })
			assert.Equal(t, int32(1), b.closed.Load())
			time.Sleep(time.Second)
			assert.Zero(t, hooked.Load(), "the timer was stopped")
		})
	})
}

type bodyClosedCase struct {
	name string
	next func() http.RoundTripper
	opts []timeouts.Option
	ctx  func() (context.Context, context.CancelFunc)
	want func(t *testing.T, err error)
}

func bodyClosedCases() []bodyClosedCase {
	boom := errors.New("boom")
	return []bodyClosedCase{
		{name: "success", next: script(transporttest.Step{Body: "ok"}),
			want: func(t *testing.T, err error) { assert.NoError(t, err) }},
		{name: "next error", next: script(transporttest.Step{Err: boom}),
			want: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "header timeout", next: script(transporttest.Step{Delay: time.Minute}),
			opts: []timeouts.Option{timeouts.WithResponseHeader(50 * ms)},
			want: func(t *testing.T, err error) { requireTimeout(t, err, errclass.PhaseResponseHeader) }},
		{name: "attempt timeout", next: script(transporttest.Step{Delay: time.Minute}),
			opts: []timeouts.Option{timeouts.WithAttempt(50 * ms)},
			want: func(t *testing.T, err error) { requireTimeout(t, err, errclass.PhaseAttempt) }},
		{name: "caller cancel", next: script(transporttest.Step{Delay: time.Minute}),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*ms, cancel)
				return ctx, cancel
			},
			want: func(t *testing.T, err error) { requireCanceled(t, err) }},
		{name: "nil response", next: func() http.RoundTripper {
			return rtFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
		}, want: func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "timeouts: RoundTripper implementation (timeouts_test.rtFunc) returned a nil *Response with a nil error")
		}},
	}
}

// script returns a maker of a fresh Script (made inside the test's bubble).
func script(steps ...transporttest.Step) func() http.RoundTripper {
	return func() http.RoundTripper { return transporttest.NewScript(steps...) }
}

type testKey struct{}

// A1: the caller's request is not modified.
func TestRequestNotModified(t *testing.T) {
	t.Parallel()
	s := transporttest.NewScript(transporttest.Step{Body: "ok"})
	b := &body{Reader: strings.NewReader("payload")}
	ctx := context.WithValue(context.Background(), testKey{}, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/x?q=1", b)
	require.NoError(t, err)
	req.Header.Set("X-A", "1")
	resp, err := timeouts.New(s).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Same(t, b, req.Body.(*body))
	assert.Equal(t, ctx, req.Context())
	assert.Equal(t, http.Header{"X-A": {"1"}}, req.Header)
	assert.Equal(t, "http://example.test/x?q=1", req.URL.String())
	assert.Nil(t, req.GetBody)
	assert.Equal(t, "payload", string(s.Seen()[0].Body))
}

// WithOnTimeout is called once per timeout, with the caller's request, and
// hooks given several times add up, in order.
func TestOnTimeoutOnceAndHooksAddUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 10, Fault: transporttest.Stall}), false)
		var mu sync.Mutex
		var calls []string
		var seen *http.Request
		hook := func(name string) timeouts.Hook {
			return timeouts.WithOnTimeout(func(r *http.Request, e *timeouts.Error) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, name+":"+string(e.Phase))
				seen = r
			})
		}
		c := memClient(t, srv, timeouts.WithBodyIdle(100*ms), hook("a"), timeouts.WithOnTimeout(nil), hook("b"))
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
		assert.Equal(t, []string{"a:body_idle", "b:body_idle"}, calls)
		assert.Same(t, req, seen)
	})
}

// T-10: the context given to next lives until the body's EOF or Close and
// is cancelled exactly then (context.Canceled, not a deadline), and no timer
// of a finished exchange reports anything: many short exchanges with short
// bounds, then time passes.
func TestContextEndsAtCloseNoLateTimer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var hooked atomic.Int32
		next := rtFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("hello")), Request: r}, nil
		})
		tr := timeouts.New(next,
			timeouts.WithResponseHeader(500*ms), timeouts.WithBodyIdle(500*ms), timeouts.WithAttempt(500*ms),
			timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { hooked.Add(1) }))
		var wg sync.WaitGroup
		var ctxs [4][]context.Context
		for w := range 4 {
			wg.Go(func() {
				for i := range 500 {
					req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
					resp, err := tr.RoundTrip(req)
					require.NoError(t, err)
					ctx := resp.Request.Context()
					require.NoError(t, ctx.Err(), "context alive before EOF")
					if (w+i)%2 == 0 {
						_, err := io.Copy(io.Discard, resp.Body)
						require.NoError(t, err)
					}
					resp.Body.Close()
					require.Equal(t, context.Canceled, ctx.Err(), "context cancelled at Close")
					ctxs[w] = append(ctxs[w], ctx)
					if i%100 == 0 {
						time.Sleep(100 * ms) // let some timers tick
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(time.Second) // past every bound of the last exchanges
		assert.Zero(t, hooked.Load())
		for _, cs := range ctxs {
			assert.Len(t, cs, 500)
		}
	})
}

// A3: the body of a 101 response keeps io.Writer through New and Total, and
// no idle bound cuts the upgraded stream.
func TestUpgradeKeepsWriter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
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
		time.Sleep(20 * ms)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "hello", string(b))
		require.NoError(t, resp.Body.Close())
		assert.True(t, conn.closed)
	})
}

type rwc struct {
	io.Reader
	written strings.Builder
	closed  bool
}

func (c *rwc) Write(p []byte) (int, error) { return c.written.Write(p) }
func (c *rwc) Close() error                { c.closed = true; return nil }

// A3 over a real HTTP/1.1 upgrade: an upgraded connection through New and
// Total keeps io.Writer, and no idle or attempt bound cuts it.
func TestUpgradeEcho(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Status: http.StatusSwitchingProtocols}), false)
		inner := timeouts.New(memBase(t, srv), timeouts.WithBodyIdle(50*ms), timeouts.WithAttempt(50*ms))
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
		time.Sleep(150 * ms) // three idle bounds, three attempt bounds
		_, err = rw.Write([]byte("ping"))
		require.NoError(t, err)
		buf := make([]byte, 4)
		_, err = io.ReadFull(rw, buf)
		require.NoError(t, err)
		assert.Equal(t, "ping", string(buf))
	})
}

// A2: Unwrap and CloseIdleConnections reach the transport below.
func TestUnwrapAndCloseIdle(t *testing.T) {
	t.Parallel()
	s := transporttest.NewScript()
	inner := timeouts.New(s)
	outer := timeouts.Total(time.Second)(timeouts.Middleware()(inner))
	(&http.Client{Transport: outer}).CloseIdleConnections()
	assert.Equal(t, 1, s.IdleCloses())
	u := outer.(interface{ Unwrap() http.RoundTripper }).Unwrap()
	u = u.(interface{ Unwrap() http.RoundTripper }).Unwrap()
	assert.Same(t, inner, u)
	assert.Same(t, s, inner.Unwrap())
	assert.Same(t, http.DefaultTransport, timeouts.New(nil).Unwrap())
}

// A5 with a response: a next that returns a response and an error breaks the
// contract; the response body is closed and only the error comes back.
func TestBothResponseAndError(t *testing.T) {
	t.Parallel()
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

// Every error the layer returns matches its class's sentinel (errclass.Wrap)
// and keeps its cause.
func TestErrorsMatchSentinels(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	next := rtFunc(func(*http.Request) (*http.Response, error) { return nil, refused })
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	_, err := timeouts.New(next).RoundTrip(req)
	assert.ErrorIs(t, err, errclass.ErrNetwork)
	assert.ErrorIs(t, err, refused)
	_, err = timeouts.Total(time.Minute)(next).RoundTrip(req)
	assert.ErrorIs(t, err, errclass.ErrNetwork)
	assert.ErrorIs(t, err, refused)
}
