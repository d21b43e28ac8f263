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

// A probe that never returns is failed at the probe deadline (by default
// the open duration): it frees its slot, the key reopens, and its late end
// changes nothing.
func TestHungProbeFailsAtDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		extra    []breaker.Option
		deadline time.Duration
	}{
		{"default deadline: the open duration", nil, 30 * time.Second},
		{"WithProbeDeadline", []breaker.Option{breaker.WithProbeDeadline(5 * time.Second)}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			hold := make(chan struct{})
			inNext := make(chan struct{}, 1)
			next := &fakeNext{clock: clock}
			next.reply = func(req *http.Request) reply {
				if req.Header.Get("X-Hold") != "" {
					inNext <- struct{}{}
					<-hold
				}
				return statusFor(req)
			}
			var trans []string
			extra := append([]breaker.Option{breaker.WithHalfOpenProbes(1),
				breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
					trans = append(trans, from.String()+">"+to.String())
				})}, tc.extra...)
			tr := tripped(t, clock, next, extra...)
			clock.Advance(30 * time.Second)

			var wg sync.WaitGroup
			wg.Go(func() {
				req := newReq(t, "a", "200", 0)
				req.Header.Set("X-Hold", "1")
				if resp, err := tr.RoundTrip(req); err == nil {
					resp.Body.Close()
				}
			})
			<-inNext
			clock.Advance(tc.deadline - time.Nanosecond)
			require.Equal(t, breaker.HalfOpen, tr.State("a"), "before the deadline")
			_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
			require.ErrorIs(t, err, breaker.ErrOpen, "the slot is still held")

			clock.Advance(time.Nanosecond)
			require.Equal(t, breaker.Open, tr.State("a"), "the hung probe failed: the key reopens")
			c := tr.Counts("a")
			assert.Equal(t, 1, c.Failures)
			assert.Equal(t, tc.deadline, c.P99)
			_, err = tr.RoundTrip(newReq(t, "a", "200", 0))
			var oe *breaker.OpenError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, 30*time.Second, oe.RetryIn)

			close(hold) // the probe ends late, successfully
			wg.Wait()
			assert.Equal(t, breaker.Open, tr.State("a"))
			assert.Equal(t, c, tr.Counts("a"))
			clock.Advance(30 * time.Second)
			assert.Zero(t, do(t, tr, "a", "200", 0, 1), "the next half-open period has its slot")
			assert.Equal(t, breaker.Closed, tr.State("a"))
			assert.Equal(t, []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}, trans)
		})
	}
}

// A probe whose caller never reads its body holds the slot only until the
// probe deadline too.
func TestUnreadProbeBodyFailsAtDeadline(t *testing.T) {
	clock := newClock()
	next := &script{plan: func(req *http.Request) step {
		if req.Header.Get("X-Status") == "503" {
			return step{status: http.StatusServiceUnavailable}
		}
		return step{body: newFailingBody("never read", nil)}
	}}
	tr := breaker.New(next, opts(clock, breaker.WithHalfOpenProbes(1), breaker.WithMinRequests(1))...)
	do(t, tr, "a", "503", 0, 1)
	clock.Advance(30 * time.Second)
	resp, err := tr.RoundTrip(newReq(t, "a", "", 0))
	require.NoError(t, err)
	defer resp.Body.Close()
	clock.Advance(30 * time.Second)
	assert.Equal(t, breaker.Open, tr.State("a"))
}
