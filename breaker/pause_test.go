package breaker_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
)

// raNext answers with status and a Retry-After of ra (none when empty), the
// X-Status and X-RA headers of the request deciding.
func raNext() *script {
	return &script{plan: func(req *http.Request) step {
		st := statusFor(req)
		h := http.Header{}
		if ra := req.Header.Get("X-RA"); ra != "" {
			h.Set("Retry-After", ra)
		}
		return step{status: st.status, header: h}
	}}
}

func raReq(t *testing.T, status, ra string) *http.Request {
	req := newReq(t, "a", status, 0)
	if ra != "" {
		req.Header.Set("X-RA", ra)
	}
	return req
}

// A 503 with Retry-After: 2 pauses the key for every caller for 2 s.
func TestRetryAfterPausesTheKey(t *testing.T) {
	clock := newClock()
	next := raNext()
	var rejects []string
	tr := breaker.New(next, opts(clock, breaker.WithRetryAfter(time.Minute),
		breaker.WithOnReject(func(key string) { rejects = append(rejects, key) }))...)
	resp, err := tr.RoundTrip(raReq(t, "503", "2"))
	require.NoError(t, err)
	resp.Body.Close()

	clock.Advance(500 * time.Millisecond)
	_, err = tr.RoundTrip(raReq(t, "200", ""))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.True(t, oe.Pause)
	assert.Equal(t, 1500*time.Millisecond, oe.RetryIn)
	assert.Equal(t, 1500*time.Millisecond, errclass.PausedFor(err))
	assert.Equal(t, 1500*time.Millisecond, errclass.PausedFor(&url.Error{Op: "Get", URL: "http://a/", Err: err}))
	assert.Equal(t, errclass.BreakerOpen, errclass.Classify(err))
	assert.Equal(t, "breaker: host a paused by its Retry-After, retry in 1.5s", err.Error())
	assert.Equal(t, breaker.Closed, tr.State("a"), "a pause is not an outage")
	assert.Equal(t, int64(1), next.calls.Load())
	assert.Equal(t, []string{"a"}, rejects)

	clock.Advance(1500 * time.Millisecond)
	assert.Zero(t, do(t, tr, "a", "200", 0, 1), "the pause is over")
}

func TestRetryAfterForms(t *testing.T) {
	date := newClock().Now().Add(7 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name, status, ra string
		want             time.Duration
	}{
		{"429 seconds", "429", "3", 3 * time.Second},
		{"capped", "503", "3600", time.Minute},
		{"HTTP date", "503", date, 7 * time.Second},
		{"date in the past", "503", "Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"garbage", "503", "soon", 0},
		{"negative", "503", "-5", 0},
		{"zero", "429", "0", 0},
		{"not 429 or 503", "500", "5", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			tr := breaker.New(raNext(), opts(clock, breaker.WithRetryAfter(time.Minute))...)
			resp, err := tr.RoundTrip(raReq(t, tc.status, tc.ra))
			require.NoError(t, err)
			resp.Body.Close()
			_, err = tr.RoundTrip(raReq(t, "200", ""))
			if tc.want == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, errclass.PausedFor(err))
		})
	}
}

func TestRetryAfterOffByDefault(t *testing.T) {
	clock := newClock()
	tr := breaker.New(raNext(), opts(clock)...)
	for range 3 {
		resp, err := tr.RoundTrip(raReq(t, "429", "30"))
		require.NoError(t, err)
		resp.Body.Close()
	}
}

// An open circuit's rejection is not a pause: the retry layer must not wait
// it out.
func TestOpenRejectionIsNotAPause(t *testing.T) {
	clock := newClock()
	tr := tripped(t, clock, &fakeNext{clock: clock, reply: statusFor})
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	require.ErrorIs(t, err, breaker.ErrOpen)
	assert.Zero(t, errclass.PausedFor(err))
}

// A host that paces its callers (5 per second, then 429 with Retry-After:
// 1) is not an outage: 30 calls at once leave the breaker closed, the host is
// paused for a second for every caller, and a call 1.1 s later is served.
func TestRateLimitedHostIsNotAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		served := 0
		windowStart := time.Now()
		next := &script{plan: func(*http.Request) step {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(windowStart) >= time.Second {
				windowStart, served = time.Now(), 0
			}
			if served < 5 {
				served++
				return step{latency: 10 * time.Millisecond}
			}
			return step{latency: 10 * time.Millisecond, status: http.StatusTooManyRequests,
				header: http.Header{"Retry-After": {"1"}}}
		}}
		tr := breaker.New(next, breaker.WithRetryAfter(time.Minute))
		errs := fanOut(t, tr, "a", make([]step, 30))
		for _, err := range errs {
			require.NoError(t, err, "all 30 were sent before the first 429 came back")
		}
		require.Equal(t, breaker.Closed, tr.State("a"))
		assert.Equal(t, 5, tr.Window("a").Requests, "the 25 429s are not counted")
		_, err := tr.RoundTrip(newReq(t, "a", "", 0))
		assert.Equal(t, time.Second, errclass.PausedFor(err), "paused for every caller")

		time.Sleep(1100 * time.Millisecond)
		resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, breaker.Closed, tr.State("a"))
	})
}
