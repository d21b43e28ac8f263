package timeouts_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// testRetry is a minimal retry loop for tests (the retry package may not be
// imported here): it retries any error until the context ends, waiting wait
// between attempts, records whether each attempt saw a deadline, and
// returns the last attempt's error (or, when the context ended during an
// attempt, the error of the attempt before, which says more).
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
	for range 100 {
		if err := req.Context().Err(); err != nil && last == nil {
			return nil, err
		} else if err != nil {
			return nil, last
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
		if req.Context().Err() != nil && last != nil {
			return nil, last
		}
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

// T-13: Total bounds every attempt and wait, exactly; each attempt gets the
// smaller of its bound and the time left; the end is Phase total, wrapping
// the last attempt's error.
func TestTotalOverAttempts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute}), false)
		inner := timeouts.New(memBase(t, srv), timeouts.WithAttempt(300*ms), timeouts.WithResponseHeader(0))
		loop := &testRetry{next: inner, wait: 50 * ms}
		var hooked atomic.Int32
		rt := timeouts.Total(time.Second, timeouts.WithOnTimeout(func(_ *http.Request, e *timeouts.Error) {
			assert.Equal(t, errclass.PhaseTotal, e.Phase)
			hooked.Add(1)
		}))(loop)
		c := &http.Client{Transport: rt}
		var err error
		took := elapsed(func() { _, err = get(t, nil, c, srv.URL) })
		te := requireTimeout(t, err, errclass.PhaseTotal)
		assert.Equal(t, time.Second, te.Limit)
		assert.Equal(t, time.Second, took, "the deadline fires on time")
		assert.True(t, strings.HasPrefix(te.Error(), "timeouts: total: request not done within 1s: "), te.Error())
		loop.mu.Lock()
		defer loop.mu.Unlock()
		assert.Equal(t, 3, loop.attempts, "300ms, 50ms, 300ms, 50ms, then 300ms cut at 1s")
		assert.Equal(t, loop.attempts, loop.deadlines, "every attempt sees the total deadline")
		for _, e := range loop.errs[:len(loop.errs)-1] {
			assert.Equal(t, errclass.PhaseAttempt, errclass.PhaseOf(e), "an attempt ends with its own bound: %v", e)
		}
		assert.Same(t, loop.errs[len(loop.errs)-2], errors.Unwrap(te), "Total wraps what the layer below returned")
		assert.Equal(t, int32(1), hooked.Load())
	})
}

// Item 4: Total keeps the cause. Attempts refused until the deadline: the
// error is Phase total, and errors.Is still finds ECONNREFUSED.
func TestTotalKeepsCause(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
		next := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, refused })
		rt := timeouts.Total(200 * ms)(&testRetry{next: next, wait: 30 * ms})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		_, err := rt.RoundTrip(req)
		te := requireTimeout(t, err, errclass.PhaseTotal)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		assert.Equal(t, errclass.Refused, errclass.Classify(errors.Unwrap(te)))
		assert.Contains(t, te.Error(), "connection refused")
	})
}

// Total covers the response body too; a caller deadline that comes first
// stays the caller's.
func TestTotalBodyAndCallerDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 1000, Trickle: 35 * ms}), false)
		c := &http.Client{Transport: timeouts.Total(300 * ms)(memBase(t, srv))}
		resp, err := get(t, nil, c, srv.URL)
		require.NoError(t, err)
		var n int64
		took := elapsed(func() { n, err = io.Copy(io.Discard, resp.Body) })
		resp.Body.Close()
		requireTimeout(t, err, errclass.PhaseTotal)
		assert.Equal(t, int64(8), n, "a byte every 35ms for 300ms")
		assert.Equal(t, 300*ms, took)

		ctx, cancel := context.WithTimeout(context.Background(), 100*ms)
		defer cancel()
		resp, err = get(t, ctx, c, srv.URL)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requireCallerDeadline(t, err)
	})
}

func TestTotalPanicsOnInvalid(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "timeouts: Total(0s): must be positive", func() { timeouts.Total(0) })
}

// Issue 16: Total takes only the options it honours. The per-attempt
// options do not implement TotalOption (so Total(d, WithAttempt(x)) does not
// compile); the hook is both.
func TestTotalOptionTypes(t *testing.T) {
	t.Parallel()
	option := reflect.TypeFor[timeouts.Option]()
	total := reflect.TypeFor[timeouts.TotalOption]()
	for _, o := range []timeouts.Option{timeouts.WithAttempt(time.Second), timeouts.WithResponseHeader(time.Second),
		timeouts.WithBodyIdle(time.Second), timeouts.WithDNS(time.Second)} {
		assert.False(t, reflect.TypeOf(o).Implements(total), "%T is a TotalOption", o)
	}
	hook := reflect.TypeOf(timeouts.WithOnTimeout(nil))
	assert.True(t, hook.Implements(total))
	assert.True(t, hook.Implements(option))
	assert.Equal(t, total, reflect.TypeOf(timeouts.Total).In(1).Elem(), "Total(d, ...TotalOption)")
}

// Total keeps the RoundTripper rules when next breaks them.
func TestTotalWithBrokenNext(t *testing.T) {
	t.Parallel()
	t.Run("nil response and nil error", func(t *testing.T) {
		b := &body{Reader: strings.NewReader("x")}
		next := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
		req, err := http.NewRequest(http.MethodPut, "http://example.test/", b)
		require.NoError(t, err)
		resp, err := timeouts.Total(time.Minute)(next).RoundTrip(req)
		assert.Nil(t, resp)
		require.EqualError(t, err, "timeouts: RoundTripper implementation (chain.RoundTripperFunc) returned a nil *Response with a nil error")
		assert.Equal(t, int32(1), b.closed.Load(), "request body closed")
	})
	t.Run("response and error", func(t *testing.T) {
		respBody := &body{Reader: strings.NewReader("x")}
		boom := errors.New("boom")
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: respBody, Request: r}, boom
		})
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := timeouts.Total(time.Minute)(next).RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, int32(1), respBody.closed.Load(), "the response body that cannot be returned is closed")
	})
	t.Run("panic", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var hooked atomic.Int32
			next := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { panic("next broke") })
			rt := timeouts.Total(20*ms, timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) { hooked.Add(1) }))(next)
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			assert.PanicsWithValue(t, "next broke", func() { rt.RoundTrip(req) })
			time.Sleep(time.Second)
			assert.Zero(t, hooked.Load())
		})
	})
}

// The context Total gives the layers below: its deadline, its values, and
// its end once the body is closed.
func TestTotalContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var seen context.Context
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			seen = r.Context()
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("x")), Request: r}, nil
		})
		ctx := context.WithValue(context.Background(), testKey{}, "v")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		begin := time.Now()
		resp, err := timeouts.Total(time.Minute)(next).RoundTrip(req)
		require.NoError(t, err)
		dl, ok := seen.Deadline()
		assert.True(t, ok)
		assert.Equal(t, begin.Add(time.Minute), dl)
		assert.Equal(t, "v", seen.Value(testKey{}))
		assert.NoError(t, seen.Err())
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "x", string(b))
		assert.Equal(t, context.Canceled, seen.Err(), "released at EOF")
		// The caller's cancellation reaches a context derived below.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		next = chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			sub, stop := context.WithCancel(r.Context())
			defer stop()
			cancel()
			<-sub.Done()
			return nil, context.Cause(sub)
		})
		_, err = timeouts.Total(time.Minute)(next).RoundTrip(req)
		requireCanceled(t, err)
	})
}
