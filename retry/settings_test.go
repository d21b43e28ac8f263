package retry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/retry"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	assert.Equal(t, retry.Settings{
		MaxAttempts: 3, BackoffBase: 100 * time.Millisecond, BackoffMax: 10 * time.Second, Jitter: retry.JitterFull,
		RetryAfterCap: 30 * time.Second, MinAttemptTime: 10 * time.Millisecond,
		Budget: "per_key", Ratio: 0.1, Floor: 10,
	}, retry.New(nil).Settings(), "the documented defaults")

	s := retry.New(nil, retry.WithMaxAttempts(5), retry.WithBackoff(time.Millisecond, time.Second, retry.JitterEqual),
		retry.WithBudget(retry.NewBudget(retry.WithRatio(0.2), retry.WithFloor(1))), retry.WithAttemptHeader("x-attempt"),
		retry.WithPolicy(retry.DefaultPolicy), retry.WithNonIdempotent()).Settings()
	assert.Equal(t, 5, s.MaxAttempts)
	assert.Equal(t, retry.JitterEqual, s.Jitter)
	assert.Equal(t, "shared", s.Budget)
	assert.Equal(t, 0.2, s.Ratio)
	assert.Equal(t, 1.0, s.Floor)
	assert.Equal(t, "X-Attempt", s.AttemptHeader)
	assert.True(t, s.CustomPolicy)
	assert.True(t, s.NonIdempotent)

	assert.Equal(t, "off", retry.New(nil, retry.WithBudget(nil)).Settings().Budget)
}
