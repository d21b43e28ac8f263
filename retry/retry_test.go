package retry_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
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
	"github.com/rtchain/chain/retry"
)

var (
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
)

// phaseTimeout is a timeout error of a given phase, shaped like the
// timeouts package's errors.
type phaseTimeout struct{ phase errclass.Phase }

func (e phaseTimeout) Error() string                { return "fake timeout in phase " + string(e.phase) }
func (e phaseTimeout) Timeout() bool                { return true }
func (e phaseTimeout) Temporary() bool              { return false }
func (e phaseTimeout) Class() errclass.Class        { return errclass.Timeout }
func (e phaseTimeout) TimeoutPhase() errclass.Phase { return e.phase }
func (e phaseTimeout) Is(target error) bool         { return target == context.DeadlineExceeded }

// openErr is a breaker rejection.
type openErr struct{}

func (openErr) Error() string         { return "breaker open" }
func (openErr) Class() errclass.Class { return errclass.BreakerOpen }

func TestStatusSequence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503, body: "busy"}, step{status: 503, body: "busy"}, step{status: 200, body: "ok"})
		rt := retry.New(s, noJitter)
		start := time.Now()
		resp, err := rt.RoundTrip(get(t))
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 300*time.Millisecond, time.Since(start), "waits 100 ms then 200 ms")
		got := s.attempts()
		require.Len(t, got, 3)
		for i, a := range got {
			assert.Equal(t, i, a.attempt, "attempt number seen by the inner layer")
		}
		assert.Equal(t, int32(2), s.closed.Load(), "discarded bodies closed")
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "ok", string(b), "returned body unread")
		resp.Body.Close()
		assert.Equal(t, int32(3), s.closed.Load())
		assert.Zero(t, s.idle.Load(), "retry never calls CloseIdleConnections (C9)")
	})
}

func TestExhaustionReturnsLastResponse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503, body: "first"}, step{status: 503, body: "second"}, step{status: 503, body: "last"})
		resp, err := retry.New(s).RoundTrip(get(t))
		require.NoError(t, err, "B5: a response, not an error")
		assert.Equal(t, 503, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "last", string(b))
		resp.Body.Close()
		assert.Equal(t, 3, s.calls())
		assert.Equal(t, s.opened.Load(), s.closed.Load())
	})
}

func TestMaxAttemptsBoundary(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 6; n++ {
		t.Run(time.Duration(n).String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{status: 503})
				resp, err := retry.New(s, retry.WithMaxAttempts(n), retry.WithBudget(nil)).RoundTrip(get(t))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, n, s.calls(), "WithMaxAttempts(%d) is attempts in all", n)
			})
		})
	}
	assert.PanicsWithValue(t, "retry: WithMaxAttempts(0): need at least 1", func() { retry.WithMaxAttempts(0) })
}

func TestMethodMatrix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		header string
		opts   []retry.Option
		want   int
	}{
		{method: "GET", want: 3},
		{method: "HEAD", want: 3},
		{method: "OPTIONS", want: 3},
		{method: "TRACE", want: 3},
		{method: "PUT", want: 3},
		{method: "DELETE", want: 3},
		{method: "POST", want: 1},
		{method: "PATCH", want: 1},
		{method: "CONNECT", want: 1},
		{method: "POST", header: "Idempotency-Key", want: 3},
		{method: "POST", header: "X-Idempotency-Key", want: 3},
		{method: "PATCH", header: "Idempotency-Key", want: 3},
		{method: "POST", opts: []retry.Option{retry.WithNonIdempotent()}, want: 3},
		{method: "PATCH", opts: []retry.Option{retry.WithNonIdempotent()}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.header+"/"+map[bool]string{true: "opt-in"}[len(tt.opts) > 0], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{status: 503})
				bt := &bodyTracker{data: "payload"}
				req := bt.request(t, tt.method)
				if tt.header != "" {
					req.Header.Set(tt.header, "k-1")
				}
				resp, err := retry.New(s, tt.opts...).RoundTrip(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tt.want, s.calls())
				for _, a := range s.attempts() {
					assert.Equal(t, "payload", a.body, "every attempt sends the whole body")
				}
				assert.Zero(t, bt.unclosed(), "every request body closed")
			})
		})
	}
}

func TestErrorPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		err    error
		want   int
	}{
		{"refused GET", "GET", errRefused, 3},
		{"refused POST is unsent (C2)", "POST", errRefused, 3},
		{"reset GET", "GET", errReset, 3},
		{"reset POST is ambiguous (C2)", "POST", errReset, 1},
		{"dns temporary", "GET", &net.DNSError{Err: "server misbehaving", Name: "example.test", IsTemporary: true}, 3},
		{"dns not found", "GET", &net.DNSError{Err: "no such host", Name: "example.test", IsNotFound: true}, 1},
		{"unknown authority (C3)", "GET", &tls509{x509.UnknownAuthorityError{}}, 1},
		{"caller canceled", "GET", context.Canceled, 1},
		{"breaker open (E7)", "GET", openErr{}, 1},
		{"breaker open wrapped in url.Error (E7)", "GET", &url.Error{Op: "Get", URL: "http://x", Err: openErr{}}, 1},
		{"attempt timeout once more", "GET", phaseTimeout{errclass.PhaseAttempt}, 2},
		{"header timeout once more", "PUT", phaseTimeout{errclass.PhaseResponseHeader}, 2},
		{"attempt timeout POST", "POST", phaseTimeout{errclass.PhaseAttempt}, 1},
		{"connect timeout POST is unsent", "POST", phaseTimeout{errclass.PhaseConnect}, 3},
		{"tls handshake timeout", "GET", phaseTimeout{errclass.PhaseTLSHandshake}, 3},
		{"total timeout", "GET", phaseTimeout{errclass.PhaseTotal}, 1},
		{"unknown error", "GET", errors.New("something odd"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{err: tt.err})
				bt := &bodyTracker{data: "payload"}
				resp, err := retry.New(s).RoundTrip(bt.request(t, tt.method))
				assert.Nil(t, resp)
				require.Error(t, err)
				assert.Equal(t, tt.want, s.calls())
				assert.ErrorIs(t, err, tt.err, "the last error is wrapped (A6)")
				assert.Equal(t, errclass.Classify(tt.err), errclass.Classify(err), "class preserved")
				if tt.want > 1 {
					var re *retry.Error
					require.ErrorAs(t, err, &re)
					assert.Equal(t, tt.want, re.Attempts)
					assert.Contains(t, err.Error(), "after "+string(rune('0'+tt.want))+" attempts")
				}
				assert.Zero(t, bt.unclosed(), "every request body closed")
			})
		})
	}
}

// tls509 wraps a certificate error the way crypto/tls does.
type tls509 struct{ x509.UnknownAuthorityError }

func (e *tls509) Error() string { return "tls: failed to verify certificate: x509: unknown authority" }
func (e *tls509) Unwrap() error { return e.UnknownAuthorityError }

func TestTimeoutsRetriedOnceMore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		to := phaseTimeout{errclass.PhaseAttempt}
		s := newScript(step{err: to}, step{status: 503}, step{err: to}, step{status: 200})
		_, err := retry.New(s, retry.WithMaxAttempts(10)).RoundTrip(get(t))
		require.Error(t, err)
		assert.Equal(t, 3, s.calls(), "the second timeout ends the loop")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var ue = &url.Error{Op: "Get", URL: "http://x", Err: err}
		assert.True(t, ue.Timeout(), "url.Error.Timeout sees through retry.Error")
	})
}

func TestCallerDeadlineNotRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		s := &blockUntilDone{}
		req := get(t).WithContext(ctx)
		_, err := retry.New(s).RoundTrip(req)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, int32(1), s.calls.Load(), "the caller's deadline is terminal (C7, T-14)")
	})
}

// blockUntilDone is a transport that never answers until the request's
// context is done.
type blockUntilDone struct{ calls atomic.Int32 }

func (b *blockUntilDone) RoundTrip(r *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	<-r.Context().Done()
	return nil, r.Context().Err()
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	date := func(layout string, d time.Duration) string { return time.Now().Add(d).UTC().Format(layout) }
	tests := []struct {
		name     string
		status   int
		value    func() string
		wantWait time.Duration
		wantN    int
	}{
		{"delta seconds", 503, func() string { return "2" }, 2 * time.Second, 2},
		{"delta seconds on 429", 429, func() string { return "3" }, 3 * time.Second, 2},
		{"zero", 503, func() string { return "0" }, 0, 2},
		{"IMF-fixdate", 503, func() string { return date(http.TimeFormat, 5*time.Second) }, 5 * time.Second, 2},
		{"RFC 850", 503, func() string { return date(time.RFC850, 7*time.Second) }, 7 * time.Second, 2},
		{"ANSI C", 429, func() string { return date(time.ANSIC, 4*time.Second) }, 4 * time.Second, 2},
		{"past date means now", 503, func() string { return date(http.TimeFormat, -time.Hour) }, 0, 2},
		{"at the cap", 503, func() string { return "30" }, 30 * time.Second, 2},
		{"over the cap returns at once", 503, func() string { return "3600" }, 0, 1},
		{"date over the cap", 429, func() string { return date(http.TimeFormat, time.Hour) }, 0, 1},
		{"garbage falls back to backoff", 503, func() string { return "soon" }, 100 * time.Millisecond, 2},
		{"negative means now", 503, func() string { return "-5" }, 0, 2},
		{"overflowing is over the cap", 503, func() string { return "9300000000" }, 0, 1},
		{"absurd is over the cap", 503, func() string { return "99999999999999999999" }, 0, 1},
		{"ignored on 502", 502, func() string { return "5" }, 100 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{status: tt.status, header: http.Header{"Retry-After": {tt.value()}}}, step{status: 200})
				var waits []time.Duration
				rt := retry.New(s, noJitter, noSpread, retry.WithOnRetry(func(e retry.Event) { waits = append(waits, e.Wait) }))
				start := time.Now()
				resp, err := rt.RoundTrip(get(t))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tt.wantN, s.calls())
				assert.Equal(t, tt.wantWait, time.Since(start))
				if tt.wantN == 1 {
					assert.Equal(t, tt.status, resp.StatusCode, "the 429/503 goes back")
					assert.Empty(t, waits)
				} else {
					assert.Equal(t, []time.Duration{tt.wantWait}, waits)
				}
			})
		})
	}
}

// A Retry-After too long for a Duration (a huge number, a date thousands of
// years away) is above any cap, the largest one included: the response goes
// back at once. FuzzRetryAfterWait found it at the largest cap (seed
// overflow-under-max-cap).
func TestRetryAfterOverflowAboveMaxCap(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"99999999999", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		t.Run(v, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{status: 503, header: http.Header{"Retry-After": {v}}}, step{status: 200})
				rt := retry.New(s, retry.WithRetryAfterCap(math.MaxInt64))
				start := time.Now()
				resp, err := rt.RoundTrip(get(t))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, 1, s.calls())
				assert.Equal(t, 503, resp.StatusCode)
				assert.Zero(t, time.Since(start))
			})
		})
	}
}

func TestDeadlineShorterThanWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		step step
		opts []retry.Option
	}{
		{"retry-after", step{status: 503, header: http.Header{"Retry-After": {"2"}}}, nil},
		{"backoff", step{status: 503}, []retry.Option{retry.WithBackoff(5*time.Second, 10*time.Second, retry.JitterNone)}},
		{"backoff after error", step{err: errReset}, []retry.Option{retry.WithBackoff(5*time.Second, 10*time.Second, retry.JitterNone)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				s := newScript(tt.step, step{status: 200})
				start := time.Now()
				resp, err := retry.New(s, tt.opts...).RoundTrip(get(t).WithContext(ctx))
				assert.Zero(t, time.Since(start), "returns now, without sleeping")
				assert.Equal(t, 1, s.calls())
				if tt.step.err != nil {
					assert.ErrorIs(t, err, tt.step.err)
				} else {
					require.NoError(t, err)
					assert.Equal(t, 503, resp.StatusCode)
					resp.Body.Close()
				}
			})
		})
	}
}

func TestCancelDuringWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("user pressed stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Second, func() { cancel(cause) })
		s := newScript(step{status: 503}, step{status: 200})
		bt := &bodyTracker{data: "payload"}
		req := bt.request(t, "PUT").WithContext(ctx)
		start := time.Now()
		resp, err := retry.New(s, retry.WithBackoff(10*time.Second, 10*time.Second, retry.JitterNone)).RoundTrip(req)
		assert.Nil(t, resp)
		assert.Equal(t, time.Second, time.Since(start), "returns as soon as the context is done")
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, cause)
		assert.Equal(t, errclass.Canceled, errclass.Classify(err))
		assert.Equal(t, 1, s.calls())
		assert.Equal(t, int32(1), s.closed.Load(), "discarded body closed")
		assert.Zero(t, bt.unclosed(), "request bodies closed, the fresh one too")
		assert.Equal(t, 2, bt.made())
	})
}

func TestRequestBodyClosedOnEveryPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
		opts  []retry.Option
		ctx   func() (context.Context, context.CancelFunc)
	}{
		{"success first", []step{{status: 200}}, nil, nil},
		{"success after retries", []step{{status: 503}, {err: errReset}, {status: 200}}, nil, nil},
		{"exhausted on errors", []step{{err: errReset}}, nil, nil},
		{"exhausted on statuses", []step{{status: 503}}, nil, nil},
		{"not retryable", []step{{status: 400}}, nil, nil},
		{"breaker rejection", []step{{err: openErr{}}}, nil, nil},
		{"budget refusal", []step{{status: 503}}, []retry.Option{retry.WithBudget(retry.NewBudget(retry.WithRatio(0), retry.WithFloor(0)))}, nil},
		{"retry-after over cap", []step{{status: 429, header: http.Header{"Retry-After": {"99"}}}}, nil, nil},
		{"canceled before", []step{{err: context.Canceled}}, nil, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}},
		{"deadline in wait", []step{{status: 503}}, []retry.Option{retry.WithBackoff(time.Hour, time.Hour, retry.JitterNone)}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}},
		{"nil response and nil error", []step{{}}, nil, nil},
		{"refused below after a response", []step{{status: 503}, {err: &breakerlike{}}}, nil, nil},
		{"refused below with a pause", []step{{err: &breakerlike{pause: time.Second}}, {status: 200}}, nil, nil},
		{"pause refused beyond the cap", []step{{status: 503}, {err: &breakerlike{pause: time.Hour}}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(tt.steps...)
				if tt.name == "nil response and nil error" {
					s = nil
				}
				bt := &bodyTracker{data: "payload"}
				req := bt.request(t, "PUT")
				if tt.ctx != nil {
					ctx, cancel := tt.ctx()
					defer cancel()
					req = req.WithContext(ctx)
				}
				var rt http.RoundTripper
				if s == nil {
					rt = retry.New(nilNil{}, tt.opts...)
				} else {
					rt = retry.New(s, tt.opts...)
				}
				resp, err := rt.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				} else {
					assert.Nil(t, resp)
				}
				assert.Zero(t, bt.unclosed(), "of %d bodies made", bt.made())
				if s != nil {
					assert.Equal(t, s.opened.Load(), s.closed.Load(), "response bodies")
				}
			})
		})
	}
}

// nilNil breaks the RoundTripper contract: no response and no error. It
// closes the request body like a transport.
type nilNil struct{}

func (nilNil) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return nil, nil
}

func TestNilResponseNilError(t *testing.T) {
	t.Parallel()
	resp, err := retry.New(nilNil{}).RoundTrip(get(t))
	assert.Nil(t, resp)
	require.EqualError(t, err, "retry: RoundTripper implementation (retry_test.nilNil) returned a nil *Response with a nil error",
		"A5: converted to an error, in net/http's words")
}

func TestNonReplayableBodySentOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		body := &reqBody{Reader: strings.NewReader("stream")}
		req, err := http.NewRequest("PUT", "http://example.test/", body)
		require.NoError(t, err)
		require.Nil(t, req.GetBody, "a custom reader is not replayable")
		resp, err := retry.New(s).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, 1, s.calls(), "sent once, never buffered")
		assert.Equal(t, int32(1), body.closes.Load())
	})
}

func TestCallerRequestUntouched(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{err: errReset}, step{status: 200})
		bt := &bodyTracker{data: "payload"}
		req := bt.request(t, "PUT")
		req.Header.Set("X-Keep", "1")
		ctx := req.Context()
		body, getBody, hdr, u := req.Body, req.GetBody, req.Header.Clone(), *req.URL
		rt := retry.New(s, retry.WithAttemptHeader("x-retry-attempt"))
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "PUT", req.Method)
		assert.Equal(t, u, *req.URL)
		assert.Equal(t, hdr, req.Header)
		assert.True(t, body == req.Body, "body pointer")
		assert.True(t, ctx == req.Context(), "context")
		assert.NotNil(t, req.GetBody)
		_ = getBody
		got := s.attempts()
		require.Len(t, got, 3)
		assert.True(t, got[0].req == req, "the first attempt sends the caller's request as is")
		assert.Empty(t, got[0].header.Get("X-Retry-Attempt"))
		assert.Equal(t, "1", got[1].header.Get("X-Retry-Attempt"))
		assert.Equal(t, "2", got[2].header.Get("X-Retry-Attempt"))
		for i, a := range got {
			assert.Equal(t, "1", a.header.Get("X-Keep"), "attempt %d", i)
			assert.NotNil(t, a.req.GetBody, "attempt %d keeps a working GetBody (B3)", i)
		}
	})
}

func TestNestedAttemptNumbering(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		// The outer layer's retry reaches the inner layer with number 1 on
		// its context; below the inner layer, its own numbering holds.
		outer := retry.New(retry.New(s, retry.WithMaxAttempts(1)))
		resp, err := outer.RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		got := s.attempts()
		require.Len(t, got, 2)
		assert.Equal(t, 0, got[0].attempt)
		assert.Equal(t, 0, got[1].attempt)
	})
}

func TestOnRetryEvents(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{err: errReset}, step{status: 200})
		var events []retry.Event
		req := get(t)
		rt := retry.New(s, noJitter, retry.WithOnRetry(func(e retry.Event) { events = append(events, e) }))
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Len(t, events, 2)
		assert.Equal(t, retry.Event{Request: req, Attempt: 1, Wait: 100 * time.Millisecond, Reason: "503"}, events[0])
		assert.Equal(t, retry.Event{Request: req, Attempt: 2, Wait: 200 * time.Millisecond, Reason: "reset"}, events[1])
	})
}

func TestCustomPolicy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 500}, step{status: 503}, step{status: 200})
		var outcomes []retry.Outcome
		p := func(o retry.Outcome) bool {
			outcomes = append(outcomes, o)
			if o.Response != nil && o.Response.StatusCode == 500 {
				return true
			}
			return retry.DefaultPolicy(o)
		}
		resp, err := retry.New(s, retry.WithPolicy(p)).RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		require.Len(t, outcomes, 3, "called after every attempt, the last allowed one too")
		for i, o := range outcomes {
			assert.Equal(t, i, o.Attempt)
		}
		assert.Equal(t, errclass.Status, outcomes[0].Class, "classified once, carried to the policy")
		assert.Equal(t, errclass.OK, outcomes[2].Class)
		assert.True(t, outcomes[0].Idempotent)
	})
}

func TestForwarding(t *testing.T) {
	t.Parallel()
	s := newScript(step{status: 200})
	rt := retry.New(s)
	assert.True(t, rt.Unwrap() == http.RoundTripper(s))
	rt.CloseIdleConnections()
	assert.Equal(t, int32(1), s.idle.Load(), "A2: forwarded")
	mw := retry.Middleware(retry.WithMaxAttempts(2))
	wrapped, ok := mw(s).(*retry.Transport)
	require.True(t, ok)
	assert.True(t, wrapped.Unwrap() == http.RoundTripper(s))
	assert.True(t, retry.New(nil).Unwrap() == http.DefaultTransport, "nil next is http.DefaultTransport")
}

func TestOptionPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"attempts", func() { retry.WithMaxAttempts(-1) }, "retry: WithMaxAttempts(-1): need at least 1"},
		{"base", func() { retry.WithBackoff(0, time.Second, retry.JitterFull) }, "retry: WithBackoff(0s, 1s, full): base must be > 0"},
		{"max", func() { retry.WithBackoff(time.Second, time.Millisecond, retry.JitterFull) }, "retry: WithBackoff(1s, 1ms, full): max must be ≥ base"},
		{"jitter", func() { retry.WithBackoff(time.Second, time.Second, 9) }, "retry: WithBackoff(1s, 1s, Jitter(9)): unknown jitter"},
		{"cap", func() { retry.WithRetryAfterCap(-1) }, "retry: WithRetryAfterCap(-1ns): need a duration ≥ 0"},
		{"header", func() { retry.WithAttemptHeader("") }, `retry: WithAttemptHeader(""): need a valid header name`},
		{"ratio", func() { retry.WithRatio(-0.5) }, "retry: WithRatio(-0.5): need 0 ≤ ratio ≤ 10"},
		{"floor", func() { retry.WithFloor(-1) }, "retry: WithFloor(-1): need 0 ≤ rate ≤ 1e6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.PanicsWithValue(t, tt.want, tt.f) })
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{err: errReset}, step{status: 200}, step{status: 502}, step{status: 200})
		rt := retry.New(s, retry.WithBudget(retry.NewBudget()))
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for range 20 {
					bt := &bodyTracker{data: "payload"}
					resp, err := rt.RoundTrip(bt.request(t, "PUT"))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					assert.Zero(t, bt.unclosed())
				}
			})
		}
		wg.Wait()
		assert.Equal(t, s.opened.Load(), s.closed.Load())
		assert.GreaterOrEqual(t, s.calls(), 1000)
	})
}
