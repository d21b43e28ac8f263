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
	t.Run("MinRequests 20 and FailureRate 0.5", func(t *testing.T) {
		clock := newClock()
		tr := breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "503", 0, 9)
		do(t, tr, "a", "200", 0, 10)
		require.Equal(t, breaker.Closed, tr.State("a"), "19 outcomes")
		do(t, tr, "a", "503", 0, 1)
		require.Equal(t, breaker.Open, tr.State("a"), "10 of 20")
	})
	t.Run("Window 60s", func(t *testing.T) {
		clock := newClock()
		tr := breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "503", 0, 19)
		clock.Advance(50 * time.Second)
		require.Equal(t, 19, tr.Window("a").Requests)
		clock.Advance(10 * time.Second)
		require.Equal(t, 0, tr.Window("a").Requests)
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
	t.Run("P99 2s", func(t *testing.T) {
		clock := newClock()
		tr := breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "200", 1500*time.Millisecond, 20)
		require.Equal(t, breaker.Closed, tr.State("a"))
		tr = breaker.New(&fakeNext{clock: clock, reply: statusFor}, opts(clock)...)
		do(t, tr, "a", "200", 2500*time.Millisecond, 20)
		require.Equal(t, breaker.Open, tr.State("a"))
	})
	t.Run("ConcurrentFailureRate 0.15", func(t *testing.T) {
		clock := newClock()
		g := newGate(20)
		next := &fakeNext{clock: clock, reply: func(req *http.Request) reply { g.wait(); return statusFor(req) }}
		tr := breaker.New(next, opts(clock)...)
		overlapping(t, tr, "a", 20, 3)
		assert.Equal(t, breaker.Open, tr.State("a"), "3 of 20 overlapping failures, under the 0.5 failure rate")
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
