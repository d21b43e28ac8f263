package breaker_test

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/breaker"
)

// rejectedShare sends calls per second to a host that fails 10 % of calls
// at random, for an hour of fake time, and returns the share of calls the
// breaker rejected.
func rejectedShare(t *testing.T, perSecond int, extra ...breaker.Option) float64 {
	t.Helper()
	clock := newClock()
	r := rand.New(rand.NewPCG(1, 2))
	next := &fakeNext{clock: clock, reply: func(*http.Request) reply {
		if r.IntN(10) == 0 {
			return reply{status: http.StatusServiceUnavailable}
		}
		return reply{status: http.StatusOK}
	}}
	tr := breaker.New(next, opts(clock, extra...)...)
	n := 3600 * perSecond
	rejected := 0
	req := newReq(t, "a", "", 0) // one request for all: a RoundTripper does not modify it
	for range n {
		resp, err := tr.RoundTrip(req)
		switch {
		case isOpen(err):
			rejected++
		case err == nil:
			resp.Body.Close()
		}
		clock.Advance(time.Second / time.Duration(perSecond))
	}
	return float64(rejected) / float64(n)
}

// The numbers the package documentation gives for an API that fails 10 % of
// its calls transiently, with the defaults and with the relaxed rule it
// suggests.
func TestTransientlyFailingAPI(t *testing.T) {
	relaxed := []breaker.Option{
		breaker.WithFailureRate(0.25),
		breaker.WithConcurrentFailureRate(0.35),
		breaker.WithRecovery(0.2, 800*time.Millisecond, 0.2),
	}
	for _, tc := range []struct {
		perSecond          int
		defaults, relaxMax float64
	}{
		{1, 0.60, 0.005},
		{10, 0.93, 0},
	} {
		got := rejectedShare(t, tc.perSecond)
		assert.InDelta(t, tc.defaults, got, 0.03, "defaults at %d/s", tc.perSecond)
		got = rejectedShare(t, tc.perSecond, relaxed...)
		assert.LessOrEqual(t, got, tc.relaxMax, "relaxed at %d/s", tc.perSecond)
	}
}
