package breaker_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/transporttest"
)

// deadAddr returns a loopback address with nothing listening on it.
func deadAddr(t *testing.T) string {
	t.Helper()
	return transporttest.DeadAddr()
}

func loopbackTransport(t *testing.T) *http.Transport {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestRefusedPortTrips(t *testing.T) {
	addr := deadAddr(t)
	base := loopbackTransport(t)
	tr := breaker.New(base, breaker.WithMinRequests(5))
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for i := range 5 {
		_, err := client.Get("http://" + addr + "/")
		require.Error(t, err)
		require.Equal(t, errclass.Refused, errclass.Classify(err), "attempt %d", i)
	}
	require.Equal(t, breaker.Open, tr.State(addr))
	assert.Equal(t, 5, tr.Counts(addr).Failures)

	_, err := client.Get("http://" + addr + "/")
	require.ErrorIs(t, err, breaker.ErrOpen)
	assert.Equal(t, errclass.BreakerOpen, errclass.Classify(err), "class survives *url.Error")
}

func TestRequestBodyClosedOnEveryPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dead := deadAddr(t)
	clock := newClock()

	t.Run("success", func(t *testing.T) {
		tr := breaker.New(loopbackTransport(t))
		body := newBody("hello")
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.GreaterOrEqual(t, body.closes.Load(), int64(1))
	})
	t.Run("network error", func(t *testing.T) {
		tr := breaker.New(loopbackTransport(t))
		body := newBody("hello")
		req, _ := http.NewRequest(http.MethodPost, "http://"+dead+"/", body)
		_, err := tr.RoundTrip(req)
		require.Error(t, err)
		assert.GreaterOrEqual(t, body.closes.Load(), int64(1))
	})
	t.Run("rejected while open", func(t *testing.T) {
		next := &fakeNext{clock: clock, reply: statusFor}
		tr := tripped(t, clock, next)
		calls := next.calls.Load()
		body := newBody("hello")
		req, _ := http.NewRequest(http.MethodPost, "http://a/", body)
		_, err := tr.RoundTrip(req)
		require.ErrorIs(t, err, breaker.ErrOpen)
		assert.Equal(t, int64(1), body.closes.Load())
		assert.Equal(t, calls, next.calls.Load())
	})
	t.Run("rejected while half-open", func(t *testing.T) {
		release := make(chan struct{})
		next := &fakeNext{clock: clock}
		next.reply = func(req *http.Request) reply {
			if req.Header.Get("X-Status") == "503" {
				return reply{status: 503}
			}
			<-release
			return reply{status: 200}
		}
		tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(1))
		clock.Advance(30 * time.Second)
		probeDone := make(chan struct{})
		go func() {
			defer close(probeDone)
			resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
			if err == nil {
				resp.Body.Close()
			}
		}()
		require.Eventually(t, func() bool { return tr.Window("a").Requests == 0 && next.calls.Load() == 21 }, 5*time.Second, time.Millisecond)
		body := newBody("hello")
		req, _ := http.NewRequest(http.MethodPost, "http://a/", body)
		_, err := tr.RoundTrip(req)
		var oe *breaker.OpenError
		require.ErrorAs(t, err, &oe)
		assert.Zero(t, oe.RetryIn)
		assert.Equal(t, int64(1), body.closes.Load())
		close(release)
		<-probeDone
	})
}

func TestOpenError(t *testing.T) {
	err := error(&breaker.OpenError{Key: "api.test:443", RetryIn: 2500 * time.Millisecond})
	assert.Equal(t, "breaker: circuit open for host api.test:443, retry in 2.5s", err.Error())
	assert.ErrorIs(t, err, breaker.ErrOpen)
	assert.Equal(t, errclass.BreakerOpen, errclass.Classify(err))
	assert.NotErrorIs(t, err, errclass.ErrNetwork)

	// The default key is the host: no user info, path or query in the message.
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock)...)
	for range 21 {
		req, _ := http.NewRequest(http.MethodGet, "http://user:hunter2@api.test:8443/p?token=s3cret", nil)
		req.Header.Set("X-Status", "503")
		req.Header.Set("Authorization", "Bearer s3cret")
		_, err = tr.RoundTrip(req)
	}
	require.ErrorIs(t, err, breaker.ErrOpen)
	assert.Equal(t, "breaker: circuit open for host api.test:8443, retry in 30s", err.Error())
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "s3cret")
}

type idleCounter struct {
	fakeNext
	closes int
}

func (c *idleCounter) CloseIdleConnections() { c.closes++ }

func TestUnwrapAndCloseIdleConnections(t *testing.T) {
	next := &idleCounter{}
	tr := breaker.New(next)
	assert.Same(t, next, tr.Unwrap())
	(&http.Client{Transport: tr}).CloseIdleConnections()
	assert.Equal(t, 1, next.closes)
	assert.Equal(t, http.DefaultTransport, breaker.New(nil).Unwrap())

	mw := breaker.Middleware(breaker.WithMinRequests(3))
	wrapped := mw(next)
	assert.Same(t, next, wrapped.(*breaker.Transport).Unwrap())
}

func TestNilResponseNilErrorIsAnError(t *testing.T) {
	nilNext := roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	tr := breaker.New(nilNext, breaker.WithMinRequests(2))
	for range 2 {
		resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
		assert.Nil(t, resp)
		require.Error(t, err)
	}
	assert.Equal(t, breaker.Open, tr.State("a"), "counted as failures")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestInnerBreakerRejectionIsNotCounted(t *testing.T) {
	inner := roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return nil, &breaker.OpenError{Key: "a", RetryIn: time.Second}
	})
	tr := breaker.New(inner, breaker.WithMinRequests(1))
	for range 50 {
		_, err := tr.RoundTrip(newReq(t, "a", "", 0))
		require.True(t, errors.Is(err, breaker.ErrOpen))
	}
	assert.Equal(t, breaker.Closed, tr.State("a"))
	assert.Equal(t, 0, tr.Window("a").Requests)
}

// Invalid values: New panics and Update returns an error, both naming the
// option; the option function itself never panics.
func TestInvalidOptions(t *testing.T) {
	tests := map[string]breaker.Option{
		"WithWindow":                breaker.WithWindow(time.Millisecond),
		"WithFailureWindow":         breaker.WithFailureWindow(0),
		"WithLatencyWindow":         breaker.WithLatencyWindow(-time.Second),
		"WithConcurrencyWindow":     breaker.WithConcurrencyWindow(9 * time.Millisecond),
		"WithMinRequests":           breaker.WithMinRequests(0),
		"WithFailureRate":           breaker.WithFailureRate(1.5),
		"WithSlowCall":              breaker.WithSlowCall(time.Second, 1),
		"WithP99":                   breaker.WithP99(-1),
		"WithConcurrentFailureRate": breaker.WithConcurrentFailureRate(-0.1),
		"WithOpenDuration":          breaker.WithOpenDuration(0),
		"WithProbeDeadline":         breaker.WithProbeDeadline(-time.Second),
		"WithHalfOpenProbes":        breaker.WithHalfOpenProbes(0),
		"WithRecovery":              breaker.WithRecovery(2, 0, 0),
		"WithKey":                   breaker.WithKey(nil),
		"WithMaxKeys":               breaker.WithMaxKeys(0),
		"WithRetryAfter":            breaker.WithRetryAfter(-time.Second),
	}
	for name, opt := range tests {
		t.Run(name, func(t *testing.T) {
			want := "breaker: " + name + "("
			defer func() {
				r := recover()
				require.NotNil(t, r, "want a panic")
				assert.Contains(t, r.(string), want)
			}()
			tr := breaker.New(nil)
			err := tr.Update(opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
			breaker.New(nil, opt)
		})
	}
}

func TestConflictingOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []breaker.Option
		want string
	}{
		{"recovery P99 looser than P99",
			[]breaker.Option{breaker.WithP99(time.Second), breaker.WithRecovery(0.01, 2*time.Second, 0.03)},
			"breaker: WithRecovery(0.01, 2s, 0.03) conflicts with WithP99(1s): a recovery P99 of 2s is looser than the trip P99 1s"},
		{"recovery failure rate looser than the default",
			[]breaker.Option{breaker.WithRecovery(0.2, 0, 0.03)},
			"breaker: WithRecovery(0.2, 0s, 0.03) conflicts with the default failure rate 0.05: a recovery failure rate of 0.2 is looser than the trip rate 0.05"},
		{"recovery concurrent rate looser",
			[]breaker.Option{breaker.WithConcurrentFailureRate(0.1), breaker.WithRecovery(0.01, 0, 0.2)},
			"breaker: WithRecovery(0.01, 0s, 0.2) conflicts with WithConcurrentFailureRate(0.1): a recovery concurrent failure rate of 0.2 is looser than the trip rate 0.1"},
		{"a window too short",
			[]breaker.Option{breaker.WithWindow(time.Millisecond)},
			"breaker: WithWindow(1ms): need at least 10ms"},
		{"two invalid options",
			[]breaker.Option{breaker.WithMinRequests(-1), breaker.WithOpenDuration(-time.Second)},
			"breaker: WithMinRequests(-1): need at least 1; WithOpenDuration(-1s): need a positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.PanicsWithValue(t, tc.want, func() { breaker.New(nil, tc.opts...) })
			require.PanicsWithValue(t, tc.want, func() { breaker.Middleware(tc.opts...) })
			err := breaker.New(nil).Update(tc.opts...)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestLoopbackFailuresTrip(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusBadGateway, Body: "down"})
		defer srv.Close()
		base := loopbackTransport(t)
		tr := breaker.New(base, breaker.WithMinRequests(5))
		client := &http.Client{Transport: tr}
		for range 5 {
			resp, err := client.Get(srv.URL)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		_, err := client.Get(srv.URL)
		require.ErrorIs(t, err, breaker.ErrOpen)
		assert.Equal(t, 5, srv.Stats().Requests, "the rejected call never reached the server")
	})
	t.Run("timeouts", func(t *testing.T) {
		srv := transporttest.NewServer(transporttest.Reply{Delay: 5 * time.Second})
		defer srv.Close()
		base := loopbackTransport(t)
		base.ResponseHeaderTimeout = 50 * time.Millisecond
		tr := breaker.New(base, breaker.WithMinRequests(3))
		for range 3 {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			_, err := tr.RoundTrip(req)
			require.Error(t, err)
			require.Equal(t, errclass.Timeout, errclass.Classify(err))
		}
		host := srv.URL[len("http://"):]
		assert.Equal(t, breaker.Open, tr.State(host))
		assert.Equal(t, 3, tr.Counts(host).Failures)
	})
}
