package breaker_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
)

// E7: under the retry layer, an open circuit is rejected once and never
// retried, and nothing reaches the network.
func TestOpenRejectionNotRetried(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	br := tripped(t, clock, next)
	var rejections int
	br.Update(breaker.WithOnReject(func(string) { rejections++ }))
	calls := next.calls.Load()

	rt := chain.Build(br, retry.Middleware(retry.WithMaxAttempts(5)))
	_, err := rt.RoundTrip(newReq(t, "a", "200", 0))
	require.ErrorIs(t, err, breaker.ErrOpen)
	assert.Equal(t, errclass.BreakerOpen, errclass.Classify(err))
	assert.Equal(t, 1, rejections, "exactly one rejection: the retry layer did not retry it")
	assert.Equal(t, calls, next.calls.Load(), "zero network calls")
	assert.Same(t, next, chain.Base(rt).(*fakeNext))
	var _ http.RoundTripper = rt
}

var _ chain.Middleware = breaker.Middleware()

// The standard stack turns WithRetryAfter on (60 s): a 503 with
// Retry-After pauses the host for every caller.
func TestStandardStackPausesOnRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: func(*http.Request) step {
			return step{status: http.StatusServiceUnavailable, header: http.Header{"Retry-After": {"2"}}}
		}}
		s := standard.New(standard.WithBase(next), standard.WithRetry(retry.WithMaxAttempts(1)))
		resp, err := s.RoundTrip(newReq(t, "a", "", 0))
		require.NoError(t, err)
		resp.Body.Close()
		_, err = s.RoundTrip(newReq(t, "a", "", 0))
		require.ErrorIs(t, err, breaker.ErrOpen)
		assert.Equal(t, 2*time.Second, errclass.PausedFor(err))
		assert.Equal(t, int64(1), next.calls.Load())
		time.Sleep(2 * time.Second)
		resp, err = s.RoundTrip(newReq(t, "a", "", 0))
		require.NoError(t, err)
		resp.Body.Close()
		s.CloseIdleConnections()
	})
}
