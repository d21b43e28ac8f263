package breaker_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

func TestTripFailureRate(t *testing.T) {
	tests := []struct {
		name      string
		ok, fail  int
		wantState breaker.State
	}{
		{"more than half failing trips", 9, 11, breaker.Open},
		{"exactly half stays closed: the rate must be exceeded", 10, 10, breaker.Closed},
		{"below the rate stays closed", 11, 9, breaker.Closed},
		{"all failing trips", 0, 20, breaker.Open},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			next := &fakeNext{clock: clock, reply: statusFor}
			tr := breaker.New(next, opts(clock, append(quiet(), breaker.WithFailureRate(0.5))...)...)
			do(t, tr, "a", "200", 0, tc.ok)
			do(t, tr, "a", "503", 0, tc.fail)
			assert.Equal(t, tc.wantState, tr.State("a"))
		})
	}
}

func TestMinRequests(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, append(quiet(), breaker.WithFailureRate(0.5), breaker.WithMinRequests(20))...)...)
	do(t, tr, "a", "503", 0, 19)
	require.Equal(t, breaker.Closed, tr.State("a"), "19 outcomes are fewer than MinRequests")
	require.Equal(t, 19, tr.Window("a").Failures)
	// The 20th outcome is a success, but the window now holds 19 failures of 20.
	do(t, tr, "a", "200", 0, 1)
	require.Equal(t, breaker.Open, tr.State("a"))
	c := tr.Counts("a")
	assert.Equal(t, 20, c.Requests)
	assert.Equal(t, 19, c.Failures)
}

func TestTripSlowCalls(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, append(quiet(), breaker.WithSlowCall(100*time.Millisecond, 0.5), breaker.WithMinRequests(10))...)...)
	do(t, tr, "a", "200", 10*time.Millisecond, 6)
	do(t, tr, "a", "200", 300*time.Millisecond, 4)
	require.Equal(t, breaker.Closed, tr.State("a"), "4 slow of 10 is below 0.5")
	do(t, tr, "a", "200", 300*time.Millisecond, 1)
	require.Equal(t, breaker.Closed, tr.State("a"), "5 slow of 11 is below 0.5")
	do(t, tr, "a", "200", 100*time.Millisecond, 1)
	require.Equal(t, breaker.Closed, tr.State("a"), "a call of exactly d is not slow")
	do(t, tr, "a", "200", 300*time.Millisecond, 1)
	require.Equal(t, breaker.Closed, tr.State("a"), "6 slow of 13 is below 0.5")
	do(t, tr, "a", "200", 300*time.Millisecond, 1)
	require.Equal(t, breaker.Closed, tr.State("a"), "7 slow of 14 is 0.5, not above")
	do(t, tr, "a", "200", 300*time.Millisecond, 1)
	require.Equal(t, breaker.Open, tr.State("a"), "8 slow of 15 is above 0.5")
	assert.Equal(t, 8, tr.Counts("a").SlowCalls)
	assert.Equal(t, 0, tr.Counts("a").Failures)
}

func TestTripP99(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, append(quiet(),
		breaker.WithP99(100*time.Millisecond),
		breaker.WithRecovery(0.01, 50*time.Millisecond, 0.03))...)...)
	do(t, tr, "a", "200", 10*time.Millisecond, 100)
	do(t, tr, "a", "200", time.Second, 1)
	// 101 outcomes: the 99th percentile is the 100th, which is fast.
	require.Equal(t, breaker.Closed, tr.State("a"))
	assert.Less(t, tr.Window("a").P99, 20*time.Millisecond)
	do(t, tr, "a", "200", time.Second, 1)
	// 102 outcomes: the 101st is slow.
	require.Equal(t, breaker.Open, tr.State("a"))
	c := tr.Counts("a")
	assert.Equal(t, 102, c.Requests)
	assert.GreaterOrEqual(t, c.P99, 800*time.Millisecond)
	assert.Equal(t, 0, c.Failures)
}

// overlapping sends n calls to host at once: next holds every one until all n
// have arrived, then answers failing of them with 503.
func overlapping(t *testing.T, tr http.RoundTripper, host string, n, failing int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		status := "200"
		if i < failing {
			status = "503"
		}
		wg.Go(func() {
			resp, err := tr.RoundTrip(newReq(t, host, status, 0))
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// gate holds every call until n calls are in next.
type gate struct {
	mu      sync.Mutex
	waiting int
	n       int
	open    chan struct{}
}

func newGate(n int) *gate { return &gate{n: n, open: make(chan struct{})} }

func (g *gate) wait() {
	g.mu.Lock()
	g.waiting++
	if g.waiting == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	<-g.open
}

func TestTripConcurrentFailures(t *testing.T) {
	run := func(t *testing.T, failing int) (*breaker.Transport, *fakeNext) {
		clock := newClock()
		g := newGate(20)
		next := &fakeNext{clock: clock}
		next.reply = func(req *http.Request) reply {
			if req.Header.Get("X-Gate") == "" {
				g.wait()
			}
			return statusFor(req)
		}
		tr := breaker.New(next, opts(clock, append(quiet(),
			breaker.WithConcurrentFailureRate(0.15), breaker.WithMinRequests(20))...)...)
		// Sequential failures never overlap: the condition ignores them.
		for range 40 {
			req := newReq(t, "a", "503", 0)
			req.Header.Set("X-Gate", "no")
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
		}
		require.Equal(t, breaker.Closed, tr.State("a"), "40 sequential failures with only the concurrent condition on")
		require.Equal(t, 40, tr.Window("a").Failures)
		require.Equal(t, 0, tr.Window("a").Concurrent)
		overlapping(t, tr, "a", 20, failing)
		return tr, next
	}
	t.Run("4 of 20 overlapping calls fail", func(t *testing.T) {
		tr, _ := run(t, 4)
		assert.Equal(t, breaker.Open, tr.State("a"))
		c := tr.Counts("a")
		assert.Equal(t, 20, c.Concurrent)
		assert.Equal(t, 4, c.ConcurrentFailures)
	})
	t.Run("3 of 20 overlapping calls fail: 15%, not above", func(t *testing.T) {
		tr, _ := run(t, 3)
		assert.Equal(t, breaker.Closed, tr.State("a"))
		assert.Equal(t, 20, tr.Window("a").Concurrent)
	})
}

func TestPerHostIsolation(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock)...)
	do(t, tr, "down.test", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("down.test"))
	assert.Equal(t, 0, do(t, tr, "up.test", "200", 0, 30))
	assert.Equal(t, breaker.Closed, tr.State("up.test"))
	assert.Equal(t, 5, do(t, tr, "down.test", "200", 0, 5))
	assert.Equal(t, int64(50), next.calls.Load())
}

func TestCustomKey(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithKey(func(r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))...)
	do(t, tr, "a", "503", 0, 20)
	assert.Equal(t, breaker.Open, tr.State("GET /x"))
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestWindowSlides(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithWindow(10*time.Second))...)
	do(t, tr, "a", "503", 0, 15)
	clock.Advance(5 * time.Second)
	do(t, tr, "a", "200", 0, 5)
	require.Equal(t, breaker.Open, tr.State("a"), "15 of 20 failed")
	require.Equal(t, 20, tr.Counts("a").Requests)

	// Failures that aged out do not count.
	tr = breaker.New(next, opts(clock, breaker.WithWindow(10*time.Second))...)
	do(t, tr, "a", "503", 0, 15)
	clock.Advance(11 * time.Second)
	require.Equal(t, 0, tr.Window("a").Requests)
	do(t, tr, "a", "200", 0, 5)
	assert.Equal(t, 5, tr.Window("a").Requests)
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func Test429IsNeutralByDefault(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock)...)
	do(t, tr, "a", "429", 0, 100)
	assert.Equal(t, breaker.Closed, tr.State("a"), "429 is the server pacing us, not an outage")
	assert.Equal(t, breaker.Counts{}, tr.Window("a"), "and it is not counted at all")

	count429 := breaker.WithOutcome(func(resp *http.Response, err error) breaker.Outcome {
		if err == nil && resp.StatusCode == http.StatusTooManyRequests {
			return breaker.Failure
		}
		return breaker.DefaultOutcome(resp, err)
	})
	tr = breaker.New(next, opts(clock, count429)...)
	do(t, tr, "a", "429", 0, 20)
	assert.Equal(t, breaker.Open, tr.State("a"), "WithOutcome counts 429 as a failure")

	tr = breaker.New(next, opts(clock, breaker.WithFailure(func(resp *http.Response, err error) bool {
		return err != nil || resp.StatusCode >= 400
	}))...)
	do(t, tr, "a", "404", 0, 20)
	assert.Equal(t, breaker.Open, tr.State("a"), "WithFailure replaces the rule")
}
