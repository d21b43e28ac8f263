package breaker_test

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// With the defaults, 100 calls at once (so that all are in the 30 s latency
// window): P99 > 2 s is decided by counting the calls slower than 2 s.
func TestP99DecidedByCount(t *testing.T) {
	tests := []struct {
		name      string
		fast      time.Duration
		slow      int
		want      breaker.State
		wantOver  int
		wantP99At time.Duration // the reported P99 is at most this
	}{
		{"100 calls at 1.9s", 1900 * time.Millisecond, 0, breaker.Closed, 0, 1900 * time.Millisecond},
		{"1 of 100 at 2.5s", 1900 * time.Millisecond, 1, breaker.Closed, 1, 2 * time.Second},
		{"2 of 100 at 2.5s", 1900 * time.Millisecond, 2, breaker.Open, 2, 2500 * time.Millisecond},
		{"100 calls at exactly 2s", 2 * time.Second, 0, breaker.Closed, 0, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				next := &script{plan: fromContext}
				tr := breaker.New(next)
				steps := repeat(100-tc.slow, step{latency: tc.fast})
				steps = append(steps, repeat(tc.slow, step{latency: 2500 * time.Millisecond})...)
				fanOut(t, tr, "a", steps)
				require.Equal(t, tc.want, tr.State("a"))
				c := tr.Window("a")
				if tc.want == breaker.Open {
					c = tr.Counts("a")
				}
				assert.Equal(t, 100, c.LatencyRequests)
				assert.Equal(t, tc.wantOver, c.OverP99)
				assert.LessOrEqual(t, c.P99, tc.wantP99At)
				if tc.want == breaker.Open {
					assert.Greater(t, c.P99, 2*time.Second, "the reported P99 agrees with the decision")
				}
			})
		})
	}
}

// The P99 is judged only from 100 outcomes: with fewer, it is the slowest
// call, and one slow call must not open the host.
func TestOneSlowCallAmongFewDoesNotTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: fromContext}
		tr := breaker.New(next)
		steps := append(repeat(98, step{latency: 100 * time.Millisecond}), step{latency: 10 * time.Second})
		fanOut(t, tr, "a", steps)
		require.Equal(t, breaker.Closed, tr.State("a"), "99 outcomes, 1 slow")
		w := tr.Window("a")
		assert.Equal(t, 10*time.Second, w.P99, "below 100 outcomes, P99 is the slowest call")
	})
}

// The reported P99 is never above the slowest outcome (it was reported as a
// bin's upper edge, 2.097s, for calls of 1.84 to 1.99s).
func TestReportedP99NeverAboveTheSlowest(t *testing.T) {
	for _, n := range []int{20, 150, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				next := &script{plan: fromContext}
				tr := breaker.New(next)
				steps := make([]step, n)
				for i := range steps {
					steps[i].latency = 1840*time.Millisecond + time.Duration(i%16)*10*time.Millisecond
				}
				fanOut(t, tr, "a", steps)
				w := tr.Window("a")
				require.Equal(t, n, w.LatencyRequests)
				assert.LessOrEqual(t, w.P99, 1990*time.Millisecond)
				assert.GreaterOrEqual(t, w.P99, 1840*time.Millisecond)
				assert.Equal(t, breaker.Closed, tr.State("a"))
			})
		})
	}
}

// Five probes at 790 ms meet the recovery P99 of 800 ms: no probe is slower
// (they were judged 917 ms from a histogram and the breaker flapped).
func TestProbesJustUnderRecoveryP99Close(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := tripped(t, clock, next)
	clock.Advance(30 * time.Second)
	for i := range 5 {
		do(t, tr, "a", "200", 790*time.Millisecond+time.Duration(i)*2*time.Millisecond, 1)
	}
	require.Equal(t, breaker.Closed, tr.State("a"))
	c := tr.Counts("a")
	assert.Equal(t, 5, c.Requests)
	assert.Equal(t, 798*time.Millisecond, c.P99, "with 5 probes, P99 is the slowest")
}

// With the defaults, the failure rate trips exactly when more than 5 % of at
// least 20 outcomes failed: the state is checked after every call.
func TestFailureRateExact(t *testing.T) {
	tests := []struct {
		name    string
		calls   int
		failAt  func(i int) bool
		wantEnd breaker.State
	}{
		{"6% of 100 trips", 100, func(i int) bool { return i%17 == 16 }, breaker.Open},
		{"4% of 100 does not", 100, func(i int) bool { return i%25 == 24 }, breaker.Closed},
		{"6% of 50 trips", 50, func(i int) bool { return i >= 47 }, breaker.Open},
		{"5% of 20, then 1 of 21", 21, func(i int) bool { return i == 0 || i == 20 }, breaker.Open},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			next := &fakeNext{clock: clock, reply: statusFor}
			tr := breaker.New(next, opts(clock)...)
			failures := 0
			for i := range tc.calls {
				status := "200"
				if tc.failAt(i) {
					status = "503"
					failures++
				}
				require.Zero(t, do(t, tr, "a", status, 0, 1), "call %d rejected", i)
				n := i + 1
				want := breaker.Closed
				if n >= 20 && failures*100 > 5*n {
					want = breaker.Open
				}
				require.Equal(t, want, tr.State("a"), "after %d calls with %d failures", n, failures)
				if want == breaker.Open {
					break
				}
			}
			assert.Equal(t, tc.wantEnd, tr.State("a"))
		})
	}
}

// A P99 bound above the old histogram's top (about 134 s) trips too: the
// decision counts nanoseconds, whatever the bound.
func TestLongP99Bound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: fromContext}
		tr := breaker.New(next, breaker.WithP99(10*time.Minute), breaker.WithLatencyWindow(time.Hour),
			breaker.WithRecovery(0.01, 0, 0.03))
		steps := append(repeat(98, step{latency: time.Second}), repeat(2, step{latency: 11 * time.Minute})...)
		fanOut(t, tr, "a", steps)
		require.Equal(t, breaker.Open, tr.State("a"))
		assert.Equal(t, 11*time.Minute, tr.Counts("a").P99)
	})
}

// Each dimension is judged on its own window: failures older than the
// concurrency window still count for the failure rate.
func TestDimensionsHaveTheirOwnWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: fromContext}
		tr := breaker.New(next, breaker.WithFailureRate(0),
			breaker.WithConcurrencyWindow(10*time.Second), breaker.WithFailureWindow(time.Minute))
		fail := step{status: http.StatusServiceUnavailable, latency: time.Millisecond}
		ok := step{latency: time.Millisecond}
		// 3 of 20 overlapping calls fail: 15 %, not above.
		fanOut(t, tr, "a", append(repeat(3, fail), repeat(17, ok)...))
		require.Equal(t, breaker.Closed, tr.State("a"))
		time.Sleep(11 * time.Second)
		// The first burst left the concurrency window: 3 of 20 again.
		fanOut(t, tr, "a", append(repeat(3, fail), repeat(17, ok)...))
		require.Equal(t, breaker.Closed, tr.State("a"), "the concurrency window holds only the second burst")
		w := tr.Window("a")
		assert.Equal(t, 20, w.Concurrent)
		assert.Equal(t, 40, w.Requests, "the failure window holds both")
		assert.Equal(t, 6, w.Failures)

		require.NoError(t, tr.Update(breaker.WithFailureRate(0.1)))
		fanOut(t, tr, "a", repeat(1, fail))
		assert.Equal(t, breaker.Open, tr.State("a"), "7 of 41 over the minute is above 10 %")
	})
}
