package breaker_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// tripped returns a Transport whose breaker for "a" is open, driven by clock.
func tripped(t *testing.T, clock *fakeClock, next *fakeNext, extra ...breaker.Option) *breaker.Transport {
	t.Helper()
	tr := breaker.New(next, opts(clock, extra...)...)
	do(t, tr, "a", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("a"))
	return tr
}

func TestOpenToHalfOpenExactlyAtOpenDuration(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := tripped(t, clock, next, breaker.WithOpenDuration(30*time.Second))
	calls := next.calls.Load()

	clock.Advance(30*time.Second - time.Nanosecond)
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, time.Nanosecond, oe.RetryIn)
	assert.Equal(t, breaker.Open, tr.State("a"))
	assert.Equal(t, calls, next.calls.Load(), "a rejection never reaches next")

	clock.Advance(time.Nanosecond)
	assert.Equal(t, breaker.HalfOpen, tr.State("a"))
}

func TestRetryInCountsDown(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := tripped(t, clock, next, breaker.WithOpenDuration(10*time.Second))
	clock.Advance(7500 * time.Millisecond)
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	require.EqualError(t, err, "breaker: circuit open for host a, retry in 2.5s")
}

func TestHalfOpenAdmitsExactlyNProbes(t *testing.T) {
	const callers, probes = 50, 5
	clock := newClock()
	release := make(chan struct{})
	var inNext atomic.Int64
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if req.Header.Get("X-Status") == "503" {
			return reply{status: 503}
		}
		inNext.Add(1)
		<-release
		return reply{status: 200}
	}
	var rejects atomic.Int64
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(probes),
		breaker.WithOnReject(func(string) { rejects.Add(1) }))
	clock.Advance(30 * time.Second)

	var wg sync.WaitGroup
	var admittedOK, rejected atomic.Int64
	for range callers {
		wg.Go(func() {
			resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
			switch {
			case err == nil:
				resp.Body.Close()
				admittedOK.Add(1)
			case isOpen(err):
				rejected.Add(1)
			}
		})
	}
	// Every caller but the probes is rejected at once; then let the probes end.
	require.Eventually(t, func() bool { return rejected.Load() == callers-probes && inNext.Load() == probes },
		10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int64(probes), admittedOK.Load())
	assert.Equal(t, int64(probes), inNext.Load(), "exactly N calls reach next")
	assert.Equal(t, int64(callers-probes), rejects.Load(), "OnReject once per rejection")
	assert.Equal(t, breaker.Closed, tr.State("a"), "N successful probes close the circuit")
	assert.Equal(t, probes, tr.Counts("a").Requests)
}

func TestCancelledProbeFreesItsSlot(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if err := req.Context().Err(); err != nil {
			return reply{err: err}
		}
		return statusFor(req)
	}
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(1))
	clock.Advance(30 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0).WithContext(ctx))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, breaker.HalfOpen, tr.State("a"), "a cancelled probe decides nothing")

	resp, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	require.NoError(t, err, "the next call gets the freed slot")
	resp.Body.Close()
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestPanickingProbeFreesItsSlot(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if req.Header.Get("X-Status") == "panic" {
			panic("boom")
		}
		return statusFor(req)
	}
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(1))
	clock.Advance(30 * time.Second)
	require.PanicsWithValue(t, "boom", func() { tr.RoundTrip(newReq(t, "a", "panic", 0)) })
	require.Equal(t, breaker.HalfOpen, tr.State("a"))
	resp, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestFailingProbeReopens(t *testing.T) {
	for _, probe := range []string{"503", "err"} {
		t.Run(probe, func(t *testing.T) {
			clock := newClock()
			next := &fakeNext{clock: clock, reply: statusFor}
			tr := tripped(t, clock, next, breaker.WithOpenDuration(10*time.Second))
			clock.Advance(10 * time.Second)
			do(t, tr, "a", "200", 0, 3)
			require.Equal(t, breaker.HalfOpen, tr.State("a"))
			do(t, tr, "a", probe, 0, 1)
			require.Equal(t, breaker.Open, tr.State("a"), "one failing probe reopens")
			c := tr.Counts("a")
			assert.Equal(t, 4, c.Requests)
			assert.Equal(t, 1, c.Failures)
			_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
			var oe *breaker.OpenError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, 10*time.Second, oe.RetryIn, "a full OpenDuration again")
		})
	}
}

func TestRecoveryHysteresis(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var trans []string
	tr := breaker.New(next, opts(clock, append(quiet(),
		breaker.WithP99(2*time.Second),
		breaker.WithMinRequests(20),
		breaker.WithWindow(10*time.Minute),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			trans = append(trans, from.String()+">"+to.String())
		}))...)...)
	do(t, tr, "a", "200", 3*time.Second, 99)
	require.Equal(t, breaker.Closed, tr.State("a"), "P99 is judged from 100 outcomes")
	do(t, tr, "a", "200", 3*time.Second, 1)
	require.Equal(t, breaker.Open, tr.State("a"))

	// A probe at 1 s is under the trip P99 (2 s) but over the recovery P99
	// (800 ms): the circuit reopens at once, without waiting for the rest.
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 100*time.Millisecond, 2)
	do(t, tr, "a", "200", time.Second, 1)
	require.Equal(t, breaker.Open, tr.State("a"))
	c := tr.Counts("a")
	assert.Equal(t, 3, c.Requests)
	assert.Equal(t, 1, c.OverP99)
	assert.Equal(t, time.Second, c.P99, "with 3 probes, P99 is the slowest")
	assert.Equal(t, 0, c.Failures)

	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 100*time.Millisecond, 5)
	require.Equal(t, breaker.Closed, tr.State("a"))
	assert.Equal(t, []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}, trans)
	assert.Equal(t, 0, tr.Window("a").Requests, "a closed circuit starts a new window")
}

func TestRecoveryToleratesFailuresWithManyProbes(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(200), breaker.WithRecovery(0.01, 800*time.Millisecond, 0.03))
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "503", 0, 2)
	require.Equal(t, breaker.HalfOpen, tr.State("a"), "2 of 200 probes is within a 1% recovery failure rate")
	do(t, tr, "a", "503", 0, 1)
	require.Equal(t, breaker.Open, tr.State("a"))
}

func TestCancellationsAnd4xxDoNotTrip(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if err := req.Context().Err(); err != nil {
			return reply{err: err}
		}
		return statusFor(req)
	}
	tr := breaker.New(next, opts(clock, breaker.WithMinRequests(1))...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 1000 {
		_, err := tr.RoundTrip(newReq(t, "a", "503", 0).WithContext(ctx))
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Equal(t, breaker.Closed, tr.State("a"))
	require.Equal(t, 0, tr.Window("a").Requests, "cancellations are not counted at all")

	do(t, tr, "a", "404", 0, 1000)
	require.Equal(t, breaker.Closed, tr.State("a"))
	w := tr.Window("a")
	assert.Equal(t, 1000, w.Requests)
	assert.Equal(t, 0, w.Failures, "404 is a success for the breaker")

	// A caller's cancellation that next reports some other way is still not counted.
	next.reply = func(*http.Request) reply { return reply{err: errors.New("wrapped: " + context.Canceled.Error())} }
	for range 1000 {
		tr.RoundTrip(newReq(t, "b", "", 0).WithContext(ctx))
	}
	assert.Equal(t, breaker.Closed, tr.State("b"))
	assert.Equal(t, 0, tr.Window("b").Requests)
}
