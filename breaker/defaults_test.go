package breaker_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// G4: every default is the documented one.
func TestDefaults(t *testing.T) {
	t.Run("MinRequests 20 and failure rate above 5%", func(t *testing.T) {
		clock := newClock()
		tr := breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "503", 0, 2)
		do(t, tr, "a", "200", 0, 17)
		require.Equal(t, breaker.Closed, tr.State("a"), "19 outcomes: not judged")
		do(t, tr, "a", "200", 0, 1)
		require.Equal(t, breaker.Open, tr.State("a"), "2 of 20 is more than 5%")

		tr = breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "503", 0, 1)
		do(t, tr, "a", "200", 0, 19)
		require.Equal(t, breaker.Closed, tr.State("a"), "1 of 20 is 5%, not more")
		do(t, tr, "a", "503", 0, 1)
		require.Equal(t, breaker.Open, tr.State("a"), "2 of 21")
	})
	t.Run("windows 60s, 30s, 10s", func(t *testing.T) {
		clock := newClock()
		g := newGate(10)
		next := &fakeNext{clock: clock, reply: func(req *http.Request) reply { g.wait(); return statusFor(req) }}
		tr := breaker.New(next, opts(clock, breaker.WithMinRequests(100))...)
		overlapping(t, tr, "a", 10, 1)
		w := tr.Window("a")
		require.Equal(t, 10, w.Requests)
		require.Equal(t, 10, w.LatencyRequests)
		require.Equal(t, 10, w.Concurrent)
		clock.Advance(10 * time.Second)
		w = tr.Window("a")
		require.Equal(t, []int{10, 10, 0}, []int{w.Requests, w.LatencyRequests, w.Concurrent}, "10 s: the concurrency window is empty")
		clock.Advance(20 * time.Second)
		w = tr.Window("a")
		require.Equal(t, []int{10, 0, 0}, []int{w.Requests, w.LatencyRequests, w.Concurrent}, "30 s: the latency window is empty")
		clock.Advance(30 * time.Second)
		require.Equal(t, breaker.Counts{}, tr.Window("a"), "60 s: every window is empty")
	})
	t.Run("OpenDuration 30s and 5 probes", func(t *testing.T) {
		clock := newClock()
		release := make(chan struct{})
		next := &fakeNext{clock: clock}
		next.reply = func(req *http.Request) reply {
			if req.Header.Get("X-Status") == "" {
				<-release
			}
			return statusFor(req)
		}
		tr := tripped(t, clock, next)
		_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
		require.EqualError(t, err, "breaker: circuit open for host a, retry in 30s")
		clock.Advance(30 * time.Second)
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { do(t, tr, "a", "", 0, 1) })
		}
		require.Eventually(t, func() bool { return next.calls.Load() == 25 }, 5*time.Second, time.Millisecond)
		_, err = tr.RoundTrip(newReq(t, "a", "200", 0))
		require.ErrorIs(t, err, breaker.ErrOpen, "a sixth probe is rejected")
		close(release)
		wg.Wait()
		assert.Equal(t, breaker.Closed, tr.State("a"))
	})
}

// G4: the default thresholds of the other dimensions and of recovery.
func TestDefaultThresholds(t *testing.T) {
	t.Run("P99 2s, judged from 100 outcomes", func(t *testing.T) {
		clock := newClock()
		// One latency window long enough to hold 100 sequential calls.
		tr := breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock, breaker.WithLatencyWindow(time.Hour))...)
		do(t, tr, "a", "200", 2500*time.Millisecond, 1)
		do(t, tr, "a", "200", 2*time.Second, 98)
		require.Equal(t, breaker.Closed, tr.State("a"), "99 outcomes: P99 not judged yet")
		do(t, tr, "a", "200", 2*time.Second, 1)
		require.Equal(t, breaker.Closed, tr.State("a"), "1 of 100 over 2s (2s itself is not above): P99 = 2s")
		do(t, tr, "a", "200", 2500*time.Millisecond, 1)
		require.Equal(t, breaker.Open, tr.State("a"), "2 of 101: more than 1% over 2s")
		c := tr.Counts("a")
		assert.Equal(t, 2, c.OverP99)
		assert.Equal(t, 2500*time.Millisecond, c.P99)
	})
	t.Run("concurrent failure rate above 15%", func(t *testing.T) {
		for _, tc := range []struct {
			failing int
			want    breaker.State
		}{{3, breaker.Closed}, {4, breaker.Open}} {
			clock := newClock()
			g := newGate(20)
			next := &fakeNext{clock: clock, reply: func(req *http.Request) reply { g.wait(); return statusFor(req) }}
			tr := breaker.New(next, opts(clock, breaker.WithFailureRate(0))...)
			overlapping(t, tr, "a", 20, tc.failing)
			assert.Equal(t, tc.want, tr.State("a"), "%d of 20 overlapping calls fail", tc.failing)
		}
	})
	t.Run("recovery needs every one of 5 probes under 800ms", func(t *testing.T) {
		clock := newClock()
		next := &fakeNext{clock: clock, reply: statusFor}
		tr := tripped(t, clock, next)
		clock.Advance(30 * time.Second)
		do(t, tr, "a", "200", 800*time.Millisecond, 4)
		do(t, tr, "a", "200", 801*time.Millisecond, 1)
		require.Equal(t, breaker.Open, tr.State("a"))
		clock.Advance(30 * time.Second)
		do(t, tr, "a", "200", 800*time.Millisecond, 5)
		require.Equal(t, breaker.Closed, tr.State("a"))
	})
}

// A1: the caller's request is never modified, on the admitted and the
// rejected paths.
func TestRequestNotModified(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithMinRequests(1))...)
	for _, path := range []string{"admitted", "rejected"} {
		t.Run(path, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), ctxKey{}, 1)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://a/p?q=1", strings.NewReader("body"))
			require.NoError(t, err)
			req.Header.Set("X-Status", "503")
			before := *req
			hdr := req.Header.Clone()
			url := *req.URL
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			assert.Equal(t, before.Method, req.Method)
			assert.Equal(t, url, *req.URL)
			assert.Equal(t, hdr, req.Header)
			assert.Equal(t, before.Body, req.Body)
			assert.Equal(t, before.ContentLength, req.ContentLength)
			assert.Equal(t, ctx, req.Context())
			assert.NotNil(t, req.GetBody)
		})
	}
	assert.Equal(t, breaker.Open, tr.State("a"))
}

// ctxKey marks a request context so a test can tell it was kept.
type ctxKey struct{}
