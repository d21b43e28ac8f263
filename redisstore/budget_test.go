package redisstore_test

import (
	"github.com/rtchain/chain/redisstore/internal/redistest"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/redisstore"
	"github.com/rtchain/chain/retry"
)

// outage sends perStack requests from each of stacks retry transports,
// spaced by every, to a host that always answers 503, and returns the
// attempts that reached it and how long it took from the first budget.
func outage(t *testing.T, h *host, budgets []*retry.Budget, perStack int, every time.Duration, start time.Time) (int64, time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for _, b := range budgets {
		rt := retry.New(http.DefaultTransport,
			retry.WithMaxAttempts(3),
			retry.WithBackoff(time.Millisecond, 2*time.Millisecond, retry.JitterFull),
			retry.WithBudget(b))
		wg.Go(func() {
			for range perStack {
				req, _ := http.NewRequest(http.MethodGet, h.url, nil)
				if resp, err := rt.RoundTrip(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(every)
			}
		})
	}
	wg.Wait()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return h.hits.Load(), time.Since(start)
}

func TestFleetBudget(t *testing.T) {
	// N stacks in an outage send at most (1 + ratio) × requests +
	// floor × (seconds + 1) attempts in all: one floor for the fleet, not
	// one per stack. The same stacks with local budgets send more.
	const (
		stacks   = 4
		perStack = 50
		ratio    = 0.1
		floor    = 20
		requests = stacks * perStack
	)
	bound := func(d time.Duration) float64 {
		return (1+ratio)*requests + floor*(d.Seconds()+1)
	}
	r := redistest.Start(t)

	t.Run("fleet", func(t *testing.T) {
		h := newHost(t, http.StatusServiceUnavailable)
		start := time.Now()
		var budgets []*retry.Budget
		for range stacks {
			s := redisstore.New(r.Client(t))
			t.Cleanup(func() { s.Close() })
			budgets = append(budgets, retry.NewBudget(retry.WithRatio(ratio), retry.WithFloor(floor), retry.WithStore(s)))
		}
		attempts, took := outage(t, h, budgets, perStack, 20*time.Millisecond, start)
		t.Logf("fleet: %d attempts for %d requests in %v; bound %.0f", attempts, requests, took, bound(took))
		assert.LessOrEqual(t, float64(attempts), bound(took))
		assert.Greater(t, attempts, int64(requests), "the fleet still retries")
	})

	t.Run("local budgets exceed it", func(t *testing.T) {
		// Shows that the bound above can fail: each local budget has a
		// floor of its own.
		h := newHost(t, http.StatusServiceUnavailable)
		start := time.Now()
		var budgets []*retry.Budget
		for range stacks {
			budgets = append(budgets, retry.NewBudget(retry.WithRatio(ratio), retry.WithFloor(floor)))
		}
		attempts, took := outage(t, h, budgets, perStack, 20*time.Millisecond, start)
		t.Logf("local: %d attempts for %d requests in %v; fleet bound %.0f", attempts, requests, took, bound(took))
		require.Greater(t, float64(attempts), bound(took))
	})
}
