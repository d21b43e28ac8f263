package breaker_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
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
