package breaker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

var errReset = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// A response whose body then fails is a failure of its key: the outcome is
// decided when the body ends.
func TestBodyFailuresCount(t *testing.T) {
	t.Run("reset mid-body", func(t *testing.T) {
		clock := newClock()
		next := &script{plan: func(*http.Request) step {
			return step{body: newFailingBody("partial", errReset)}
		}}
		tr := breaker.New(next, opts(clock)...)
		for i := range 20 {
			resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
			require.NoError(t, err)
			require.Equal(t, i, tr.Window("a").Requests, "the headers alone decide nothing")
			err = readAll(resp)
			require.ErrorIs(t, err, syscall.ECONNRESET, "the caller gets the body's own error")
			require.ErrorIs(t, err, errclass.ErrNetwork, "matching its class's sentinel")
		}
		require.Equal(t, breaker.Open, tr.State("a"))
		assert.Equal(t, 20, tr.Counts("a").Failures)
	})
	t.Run("body idle timeout of the timeouts layer below", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := &script{plan: func(req *http.Request) step {
				return step{body: &stalledBody{r: strings.NewReader("partial"), ctx: req.Context()}}
			}}
			tr := breaker.New(timeouts.New(next, timeouts.WithBodyIdle(time.Second)))
			for range 20 {
				resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
				require.NoError(t, err)
				err = readAll(resp)
				require.Equal(t, errclass.PhaseBodyIdle, errclass.PhaseOf(err), "%v", err)
			}
			require.Equal(t, breaker.Open, tr.State("a"))
			assert.Equal(t, 20, tr.Counts("a").Failures)
		})
	})
	t.Run("reset mid-body over loopback", func(t *testing.T) {
		srv := transporttest.NewServer(transporttest.Reply{BodySize: 1024, Fault: transporttest.ResetMidBody})
		defer srv.Close()
		tr := breaker.New(loopbackTransport(t), breaker.WithMinRequests(5))
		for range 5 {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			require.Error(t, readAll(resp))
		}
		host := strings.TrimPrefix(srv.URL, "http://")
		require.Equal(t, breaker.Open, tr.State(host))
		assert.Equal(t, 5, tr.Counts(host).Failures)
	})
}

// A body read to EOF is a success, and so is a body the caller closes early;
// the latency counted is the time to headers, not the time the caller took
// to read.
func TestBodyEndsWell(t *testing.T) {
	clock := newClock()
	next := &script{plan: func(*http.Request) step {
		return step{body: io.NopCloser(strings.NewReader(strings.Repeat("x", 100)))}
	}}
	tr := breaker.New(next, opts(clock, breaker.WithMinRequests(1))...)
	resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
	require.NoError(t, err)
	clock.Advance(10 * time.Second) // a slow reader
	require.NoError(t, readAll(resp))

	resp, err = tr.RoundTrip(newReq(t, "a", "", 0))
	require.NoError(t, err)
	buf := make([]byte, 10)
	_, err = resp.Body.Read(buf)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close(), "closed before EOF")
	require.NoError(t, resp.Body.Close(), "a second Close is harmless")

	w := tr.Window("a")
	assert.Equal(t, 2, w.Requests)
	assert.Equal(t, 0, w.Failures)
	assert.Equal(t, time.Duration(0), w.P99, "latency is time to headers")
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

// A half-open probe holds its slot until its body ends.
func TestProbeSlotHeldUntilBodyEnds(t *testing.T) {
	clock := newClock()
	fail := true
	next := &script{plan: func(*http.Request) step {
		if fail {
			return step{status: http.StatusServiceUnavailable}
		}
		return step{body: io.NopCloser(strings.NewReader("ok"))}
	}}
	tr := breaker.New(next, opts(clock, breaker.WithHalfOpenProbes(1), breaker.WithMinRequests(1))...)
	do(t, tr, "a", "", 0, 1)
	require.Equal(t, breaker.Open, tr.State("a"))
	clock.Advance(30 * time.Second)
	fail = false
	resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
	require.NoError(t, err)
	_, err = tr.RoundTrip(newReq(t, "a", "", 0))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe, "the probe's body is still open")
	assert.True(t, oe.ProbesBusy)
	require.Equal(t, breaker.HalfOpen, tr.State("a"))
	require.NoError(t, readAll(resp))
	assert.Equal(t, breaker.Closed, tr.State("a"), "the probe ended at EOF")
}

// A body that fails with an error that says nothing about the server (the
// caller's own cancellation, surfacing as it reads) is not counted.
func TestBodyErrorAfterCallerCancelIsNeutral(t *testing.T) {
	clock := newClock()
	next := &script{plan: func(*http.Request) step {
		return step{body: newFailingBody("x", errors.New("read: use of closed connection"))}
	}}
	tr := breaker.New(next, opts(clock, breaker.WithMinRequests(1))...)
	req, cancel := cancelable(newReq(t, "a", "", 0))
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	cancel()
	require.Error(t, readAll(resp))
	assert.Equal(t, 0, tr.Window("a").Requests)
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func cancelable(req *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(req.Context())
	return req.WithContext(ctx), cancel
}

// The body wrapper keeps the response intact for a caller through a stack.
func TestBodyThroughStack(t *testing.T) {
	srv := transporttest.NewServer(transporttest.Reply{Body: "hello"})
	defer srv.Close()
	br := breaker.New(loopbackTransport(t))
	c := &http.Client{Transport: chain.Build(br)}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "hello", string(b))
	assert.Equal(t, 1, br.Window(strings.TrimPrefix(srv.URL, "http://")).Requests)
}
