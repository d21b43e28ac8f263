package breaker_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

func TestUpdateKeepsWindowAndState(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, append(quiet(), breaker.WithFailureRate(0.9), breaker.WithRecovery(0.01, 0, 0))...)...)
	do(t, tr, "a", "200", 0, 8)
	do(t, tr, "a", "503", 0, 12)
	require.Equal(t, breaker.Closed, tr.State("a"), "60% is under 0.9")

	tr.Update(breaker.WithWindow(2 * time.Minute)) // the counts are folded, not lost
	require.Equal(t, 20, tr.Window("a").Requests)
	require.Equal(t, 12, tr.Window("a").Failures)
	do(t, tr, "a", "200", 0, 1)
	require.Equal(t, 21, tr.Window("a").Requests, "the folded counts stay in the window")

	tr.Update(breaker.WithFailureRate(0.5))
	do(t, tr, "a", "503", 0, 1)
	require.Equal(t, breaker.Open, tr.State("a"), "13 of 22 trips at the new rate")
	assert.Equal(t, 22, tr.Counts("a").Requests)

	tr.Update(breaker.WithFailureRate(0.9), breaker.WithOpenDuration(time.Minute))
	assert.Equal(t, breaker.Open, tr.State("a"), "Update keeps the state")
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, 30*time.Second, oe.RetryIn, "the running open period keeps its end")

	// After the open period, the probes close it.
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 0, 5)
	require.Equal(t, breaker.Closed, tr.State("a"))
}

func TestUpdateInvalidReturnsErrorAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []breaker.Option
		want string
	}{
		{"invalid value", []breaker.Option{breaker.WithMinRequests(2), breaker.WithFailureRate(-1)},
			"breaker: WithFailureRate(-1): need a rate in [0, 1]"},
		{"conflict", []breaker.Option{breaker.WithMinRequests(2), breaker.WithRecovery(0.9, 0, 0)},
			"breaker: WithRecovery(0.9, 0s, 0) conflicts with the default failure rate 0.05: a recovery failure rate of 0.9 is looser than the trip rate 0.05"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			next := &fakeNext{clock: clock, reply: statusFor}
			tr := breaker.New(next, opts(clock, breaker.WithMinRequests(5))...)
			require.NotPanics(t, func() {
				require.EqualError(t, tr.Update(tc.opts...), tc.want)
			})
			do(t, tr, "a", "503", 0, 4)
			assert.Equal(t, breaker.Closed, tr.State("a"), "MinRequests is still 5")
			do(t, tr, "a", "503", 0, 1)
			assert.Equal(t, breaker.Open, tr.State("a"))
		})
	}
}

func TestUpdateUnderLoad(t *testing.T) {
	// Real clock, real concurrency: run with -race.
	var changes atomic.Int64
	next := &fakeNext{reply: statusFor}
	tr := breaker.New(next,
		breaker.WithMinRequests(5), breaker.WithOpenDuration(time.Millisecond),
		breaker.WithWindow(time.Second), breaker.WithHalfOpenProbes(2),
		breaker.WithOnStateChange(func(string, breaker.State, breaker.State) { changes.Add(1) }))
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tr.Update(
				breaker.WithFailureRate(0.3+float64(i%5)/10),
				breaker.WithWindow(time.Duration(1+i%3)*time.Second),
				breaker.WithSlowCall(time.Duration(i%2)*time.Millisecond, 0.9),
				breaker.WithHalfOpenProbes(1+i%3),
			)
			for h := range 4 {
				key := fmt.Sprintf("h%d", h)
				_ = tr.State(key)
				_ = tr.Counts(key)
				_ = tr.Window(key)
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	var load sync.WaitGroup
	var ok, rejected atomic.Int64
	for g := range 8 {
		load.Go(func() {
			for i := range 400 {
				status := "200"
				if (i*7+g)%4 == 0 {
					status = "503"
				}
				resp, err := tr.RoundTrip(hostReq(fmt.Sprintf("h%d", (i+g)%4), status))
				switch {
				case err == nil:
					resp.Body.Close()
					ok.Add(1)
				case isOpen(err):
					rejected.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		})
	}
	load.Wait()
	close(stop)
	readers.Wait()
	assert.Equal(t, int64(8*400), ok.Load()+rejected.Load())
	assert.Equal(t, ok.Load(), next.calls.Load(), "only admitted calls reach next")
	t.Logf("admitted %d, rejected %d, transitions %d", ok.Load(), rejected.Load(), changes.Load())

	// After the load, settings still apply as set.
	tr.Update(breaker.WithFailureRate(0.5), breaker.WithMinRequests(10), breaker.WithOpenDuration(time.Hour))
	for range 10 {
		tr.RoundTrip(hostReq("fresh", "503"))
	}
	assert.Equal(t, breaker.Open, tr.State("fresh"))
}

func TestUpdateLoweringProbesDecides(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(5))
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 0, 3)
	require.Equal(t, breaker.HalfOpen, tr.State("a"))
	tr.Update(breaker.WithHalfOpenProbes(2))
	assert.Equal(t, 0, do(t, tr, "a", "200", 0, 1), "3 good probes of 2 needed: the circuit closes")
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

// Tightening a trip threshold below its default recovery threshold works, in
// New and in Update: the default recovery threshold follows it.
func TestTightTripThresholdsBuild(t *testing.T) {
	for _, opt := range []breaker.Option{
		breaker.WithP99(500 * time.Millisecond),
		breaker.WithFailureRate(0.005),
		breaker.WithConcurrentFailureRate(0.02),
	} {
		require.NotPanics(t, func() { breaker.New(nil, opt) })
		require.NoError(t, breaker.New(nil).Update(opt))
	}
}

func TestP99500msAloneWorks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: fromContext}
		tr := breaker.New(next, breaker.WithP99(500*time.Millisecond))
		fanOut(t, tr, "a", append(repeat(98, step{latency: 100 * time.Millisecond}), repeat(2, step{latency: 600 * time.Millisecond})...))
		require.Equal(t, breaker.Open, tr.State("a"))

		// Probes must meet 500 ms now, not the default 800 ms.
		time.Sleep(30 * time.Second)
		fanOut(t, tr, "a", append(repeat(4, step{latency: 100 * time.Millisecond}), step{latency: 600 * time.Millisecond}))
		require.Equal(t, breaker.Open, tr.State("a"), "a probe at 600 ms fails the recovery P99 of 500 ms")
		time.Sleep(30 * time.Second)
		fanOut(t, tr, "a", repeat(5, step{latency: 500 * time.Millisecond}))
		require.Equal(t, breaker.Closed, tr.State("a"))
	})
}

// An explicit WithRecovery stays in force; tightening a trip threshold below
// it through Update is a conflict: an error naming both, old settings kept.
func TestUpdateConflictWithEarlierRecovery(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithRecovery(0.01, 800*time.Millisecond, 0.03))...)
	err := tr.Update(breaker.WithP99(500 * time.Millisecond))
	require.EqualError(t, err, "breaker: WithRecovery(0.01, 800ms, 0.03) conflicts with WithP99(500ms): a recovery P99 of 800ms is looser than the trip P99 500ms")
	require.NoError(t, tr.Update(breaker.WithP99(500*time.Millisecond), breaker.WithRecovery(0.01, 400*time.Millisecond, 0.03)))
	do(t, tr, "a", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("a"))
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 450*time.Millisecond, 1)
	assert.Equal(t, breaker.Open, tr.State("a"), "the new recovery P99 (400 ms) is in force")
}

// Race-clean under load while Update, ForceOpen and Reset run concurrently.
func TestControlUnderLoad(t *testing.T) {
	next := &script{plan: func(req *http.Request) step {
		st := step{}
		switch req.Header.Get("X-Status") {
		case "503":
			st.status = http.StatusServiceUnavailable
		case "body":
			st.body = newFailingBody("partial", errReset)
		}
		return st
	}}
	tr := breaker.New(next, breaker.WithMinRequests(5), breaker.WithOpenDuration(time.Millisecond),
		breaker.WithWindow(time.Second), breaker.WithHalfOpenProbes(2), breaker.WithProbeDeadline(time.Millisecond),
		breaker.WithRetryAfter(time.Millisecond))
	stop := make(chan struct{})
	var ctl sync.WaitGroup
	ctl.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("h%d", i%4)
			switch i % 4 {
			case 0:
				assert.NoError(t, tr.Update(breaker.WithFailureRate(float64(i%5)/10), breaker.WithWindow(time.Duration(1+i%3)*time.Second)))
			case 1:
				tr.ForceOpen(key)
			case 2:
				tr.Reset(key)
			default:
				_, _, _ = tr.State(key), tr.Counts(key), tr.Window(key)
				_ = tr.Keys()
			}
			time.Sleep(20 * time.Microsecond)
		}
	})
	var load sync.WaitGroup
	var ok, rejected atomic.Int64
	for g := range 8 {
		load.Go(func() {
			for i := range 300 {
				status := []string{"200", "503", "body", "200"}[(i+g)%4]
				resp, err := tr.RoundTrip(hostReq(fmt.Sprintf("h%d", (i+g)%4), status))
				switch {
				case err == nil:
					readAll(resp)
					ok.Add(1)
				case isOpen(err):
					rejected.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		})
	}
	load.Wait()
	close(stop)
	ctl.Wait()
	assert.Equal(t, int64(8*300), ok.Load()+rejected.Load())
	assert.Equal(t, ok.Load(), next.calls.Load(), "only admitted calls reach next")
	for h := range 4 {
		tr.Reset(fmt.Sprintf("h%d", h))
		assert.Equal(t, breaker.Closed, tr.State(fmt.Sprintf("h%d", h)))
	}
}
