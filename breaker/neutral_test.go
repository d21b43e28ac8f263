package breaker_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
)

// One caller with a 5 ms deadline against a healthy 30 ms server: its
// deadline is its own, not the server's failure, and never opens the host
// for every caller.
func TestCallerDeadlineIsNeutral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: func(*http.Request) step { return step{latency: 30 * time.Millisecond} }}
		tr := breaker.New(next)
		for range 100 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			_, err := tr.RoundTrip(newReq(t, "a", "", 0).WithContext(ctx))
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
		assert.Equal(t, breaker.Closed, tr.State("a"))
		assert.Equal(t, breaker.Counts{}, tr.Window("a"), "not counted at all")
		do(t, tr, "a", "", 0, 1)
		assert.Equal(t, 1, tr.Window("a").Requests, "the other callers are served")
	})
}

// A bound of our own layers below (the request's context still alive) is
// the server's failure.
func TestOwnBoundBelowIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: func(*http.Request) step { return step{latency: 30 * time.Millisecond} }}
		tr := breaker.New(timeouts.New(next, timeouts.WithAttempt(5*time.Millisecond)))
		for range 20 {
			_, err := tr.RoundTrip(newReq(t, "a", "", 0))
			require.ErrorIs(t, err, errclass.ErrTimeout)
			var te *timeouts.Error
			require.ErrorAs(t, err, &te)
		}
		assert.Equal(t, breaker.Open, tr.State("a"))
		assert.Equal(t, 20, tr.Counts("a").Failures)
	})
}

// The one deadline over all attempts (timeouts.Total, above the breaker) is
// the caller's budget: neutral like the caller's own deadline.
func TestTotalAboveIsNeutral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &script{plan: func(*http.Request) step { return step{latency: 30 * time.Millisecond} }}
		br := breaker.New(next)
		rt := chain.Build(br, timeouts.Total(5*time.Millisecond))
		for range 50 {
			_, err := rt.RoundTrip(newReq(t, "a", "", 0))
			require.Equal(t, errclass.PhaseTotal, errclass.PhaseOf(err), "%v", err)
		}
		assert.Equal(t, breaker.Closed, br.State("a"))
		assert.Equal(t, 0, br.Window("a").Requests)
	})
}

type renewing struct{}

func (renewing) Error() string { return "tls: certificate renewal in progress" }
func (renewing) Neutral() bool { return true }

// Errors that say nothing about the server are not counted: an
// errclass.Neutraler reporting true, alone or wrapped, and a cancellation
// that next reports although the caller's context is alive.
func TestNeutralErrorsNotCounted(t *testing.T) {
	for name, err := range map[string]error{
		"neutraler":       renewing{},
		"wrapped":         errors.Join(errors.New("dial"), renewing{}),
		"caller canceled": context.Canceled,
	} {
		t.Run(name, func(t *testing.T) {
			next := roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, err })
			tr := breaker.New(next, breaker.WithMinRequests(1))
			for range 50 {
				_, got := tr.RoundTrip(newReq(t, "a", "", 0))
				require.ErrorIs(t, got, err)
			}
			assert.Equal(t, breaker.Closed, tr.State("a"))
			assert.Equal(t, 0, tr.Window("a").Requests)
		})
	}
}

// WithOutcome's third answer: Neutral outcomes are not counted, and a
// neutral probe frees its slot.
func TestWithOutcomeNeutral(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithHalfOpenProbes(1),
		breaker.WithOutcome(func(resp *http.Response, err error) breaker.Outcome {
			if err == nil && resp.StatusCode == http.StatusConflict {
				return breaker.Neutral
			}
			return breaker.DefaultOutcome(resp, err)
		}))...)
	do(t, tr, "a", "409", 0, 100)
	require.Equal(t, 0, tr.Window("a").Requests)
	do(t, tr, "a", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("a"))
	clock.Advance(30 * time.Second)
	require.Zero(t, do(t, tr, "a", "409", 0, 3), "each neutral probe frees its slot")
	require.Equal(t, breaker.HalfOpen, tr.State("a"))
	do(t, tr, "a", "200", 0, 1)
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestOutcomeString(t *testing.T) {
	assert.Equal(t, "success", breaker.Success.String())
	assert.Equal(t, "failure", breaker.Failure.String())
	assert.Equal(t, "neutral", breaker.Neutral.String())
	assert.Equal(t, "unknown", breaker.Outcome(9).String())
}
