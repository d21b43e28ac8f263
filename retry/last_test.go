package retry_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/retry"
)

// The last attempt that WithMaxAttempts allows is marked on its context, so
// the tracing layer below can log its failure as final.
func TestLastAttemptMarked(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var (
			mu   sync.Mutex
			last []bool
			nums []int
		)
		next := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			last = append(last, attempt.Last(req.Context()))
			nums = append(nums, retry.Attempt(req.Context()))
			mu.Unlock()
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: req}, nil
		})
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := retry.New(next, retry.WithMaxAttempts(3)).RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, []int{0, 1, 2}, nums)
		assert.Equal(t, []bool{false, false, true}, last)
	})
}
