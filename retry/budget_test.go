package retry_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/retry"
)

// Default budget numbers, as documented on retry.Budget.
const (
	ratio = 0.1
	floor = 10
)

func TestBudgetTotalOutage(t *testing.T) {
	t.Parallel()
	// C11: against a server that always fails, 1000 requests make at most
	// requests×(1+ratio) + floor×(1+elapsed seconds) attempts.
	tests := []struct {
		name  string
		every time.Duration // between request starts; 0 = all at once
		step  step
	}{
		{"burst of 503", 0, step{status: 503}},
		{"burst of resets", 0, step{err: errReset}},
		{"steady 200 per second", 5 * time.Millisecond, step{status: 503}},
		{"steady 1000 per second", time.Millisecond, step{err: errReset}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const requests = 1000
				s := newScript(tt.step)
				// Two transports share one budget, as two clients of one service would.
				budget := retry.NewBudget()
				rts := []http.RoundTripper{retry.New(s, retry.WithBudget(budget)), retry.New(s, retry.WithBudget(budget))}
				start := time.Now()
				var wg sync.WaitGroup
				for i := range requests {
					rt := rts[i%2]
					wg.Go(func() {
						resp, err := rt.RoundTrip(get(t))
						if err == nil {
							resp.Body.Close()
						}
					})
					if tt.every > 0 {
						time.Sleep(tt.every)
					}
				}
				wg.Wait()
				elapsed := time.Since(start).Seconds()
				bound := requests*(1+ratio) + floor*(1+elapsed)
				calls := s.calls()
				t.Logf("%d attempts for %d requests over %.2fs (%.3f per request, bound %.0f)", calls, requests, elapsed, float64(calls)/requests, bound)
				assert.LessOrEqual(t, float64(calls), bound)
				assert.Greater(t, float64(calls), requests*(1+ratio/2), "the budget still lets some retries through")
				assert.Equal(t, s.opened.Load(), s.closed.Load())
			})
		})
	}
}

func TestBudgetQuietClientCanRetry(t *testing.T) {
	t.Parallel()
	// The floor lets a client that sends one request a second retry each.
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503})
		rt := retry.New(s)
		for range 20 {
			resp, err := rt.RoundTrip(get(t))
			require.NoError(t, err)
			resp.Body.Close()
			time.Sleep(time.Second)
		}
		assert.Equal(t, 60, s.calls(), "3 attempts each")
	})
}

func TestBudgetDisabled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503})
		rt := retry.New(s, retry.WithBudget(nil))
		for range 100 {
			resp, err := rt.RoundTrip(get(t))
			require.NoError(t, err)
			resp.Body.Close()
		}
		assert.Equal(t, 300, s.calls(), "WithBudget(nil) turns the budget off")
	})
}

func TestBudgetDepositWithdraw(t *testing.T) {
	t.Parallel()
	// The exported pair other layers (hedge) spend the budget through: with
	// no floor, ten deposits at ratio 0.1 earn exactly one withdrawal.
	synctest.Test(t, func(t *testing.T) {
		b := retry.NewBudget(retry.WithFloor(0))
		require.False(t, b.Withdraw(), "an empty budget gave a token")
		for range 10 {
			b.Deposit()
		}
		assert.True(t, b.Withdraw(), "10 deposits at ratio 0.1 did not earn a token")
		assert.False(t, b.Withdraw(), "one token was spent twice")
	})
}
