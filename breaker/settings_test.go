package breaker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

func TestSettings(t *testing.T) {
	tr := breaker.New(nil)
	assert.Equal(t, breaker.Settings{
		FailureWindow: time.Minute, LatencyWindow: 30 * time.Second, ConcurrencyWindow: 10 * time.Second,
		MinRequests: 20, FailureRate: 0.05, P99: 2 * time.Second, ConcurrentFailureRate: 0.15,
		OpenDuration: 30 * time.Second, ProbeDeadline: 30 * time.Second, HalfOpenProbes: 5,
		RecoveryFailureRate: 0.01, RecoveryP99: 800 * time.Millisecond, RecoveryConcurrentFailureRate: 0.03,
		MaxKeys: 1024,
	}, tr.Settings(), "the documented defaults")

	require.NoError(t, tr.Update(breaker.WithFailureRate(0.005), breaker.WithSlowCall(time.Second, 0.2),
		breaker.WithRetryAfter(time.Minute), breaker.WithProbeDeadline(5*time.Second)))
	s := tr.Settings()
	assert.Equal(t, 0.005, s.FailureRate)
	assert.Equal(t, 0.005, s.RecoveryFailureRate, "the default recovery rate follows a tighter trip rate")
	assert.Equal(t, time.Second, s.SlowCall)
	assert.Equal(t, 0.2, s.SlowCallRate)
	assert.Equal(t, time.Minute, s.RetryAfter)
	assert.Equal(t, 5*time.Second, s.ProbeDeadline)
}
