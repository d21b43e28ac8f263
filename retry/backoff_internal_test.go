package retry

import (
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffRanges(t *testing.T) {
	t.Parallel()
	const base, cap = 100 * time.Millisecond, 2 * time.Second
	exp := func(k int) time.Duration {
		if k > 30 {
			return cap // base<<k would overflow
		}
		return min(cap, base<<k)
	}
	tests := []struct {
		jitter Jitter
		lo, hi func(k int, prev time.Duration) time.Duration // inclusive lo, exclusive hi (inclusive when lo == hi)
	}{
		{JitterNone, exp2(exp), exp2(exp)},
		{JitterFull, func(int, time.Duration) time.Duration { return 0 }, exp2(exp)},
		{JitterEqual, func(k int, _ time.Duration) time.Duration { return exp(k) / 2 }, exp2(exp)},
		{JitterDecorrelated, func(int, time.Duration) time.Duration { return base },
			func(_ int, prev time.Duration) time.Duration { return min(cap, 3*max(prev, base)) }},
	}
	for _, tt := range tests {
		t.Run(tt.jitter.String(), func(t *testing.T) {
			b := backoff{base: base, cap: cap, jitter: tt.jitter}
			rnd := rand.New(rand.NewPCG(1, 2)).Float64
			// Plain comparisons: testify's, 56,000 times over, cost seconds
			// under the race detector.
			for run := 0; run < 200; run++ {
				var prev time.Duration
				for k := 0; k < 70; k++ {
					d := b.wait(k, prev, rnd)
					lo, hi := tt.lo(k, prev), tt.hi(k, prev)
					if d < lo || d > hi || d > cap {
						t.Fatalf("run %d, retry %d after %v: got %v, want [%v, %v] and at most %v", run, k, prev, d, lo, hi, cap)
					}
					prev = d
				}
			}
		})
	}
}

func exp2(exp func(int) time.Duration) func(int, time.Duration) time.Duration {
	return func(k int, _ time.Duration) time.Duration { return exp(k) }
}

func TestBackoffDistribution(t *testing.T) {
	t.Parallel()
	const n = 20000
	rnd := rand.New(rand.NewPCG(7, 7)).Float64
	b := backoff{base: time.Second, cap: time.Minute, jitter: JitterFull}
	// Full jitter at retry 2 is uniform on [0, 4s): mean 2s, and each
	// quarter holds about a quarter of the draws.
	var sum float64
	var quarters [4]int
	for range n {
		d := b.wait(2, 0, rnd)
		sum += d.Seconds()
		quarters[int(d/time.Second)]++
	}
	assert.InDelta(t, 2.0, sum/n, 0.05, "mean of full jitter")
	for i, q := range quarters {
		assert.InDelta(t, n/4, q, n/40, "quarter %d", i)
	}
	// Equal jitter at retry 0 is uniform on [0.5s, 1s): mean 0.75s.
	b.jitter = JitterEqual
	sum = 0
	for range n {
		sum += b.wait(0, 0, rnd).Seconds()
	}
	assert.InDelta(t, 0.75, sum/n, 0.01, "mean of equal jitter")
}

func TestBackoffDefaultSource(t *testing.T) {
	t.Parallel()
	c := resolve(nil)
	assert.Equal(t, backoff{base: 100 * time.Millisecond, cap: 10 * time.Second, jitter: JitterFull}, c.backoff)
	seen := map[time.Duration]bool{}
	for range 100 {
		d := c.backoff.wait(3, 0, c.random)
		require.Less(t, d, 800*time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 90, "jitter on by default (C5)")
	assert.Equal(t, 3, c.maxAttempts)
	assert.Equal(t, 30*time.Second, c.retryAfterCap)
}

func TestRetryAfterParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 120 ", 2 * time.Minute, true},
		{"Sat, 28 Nov 2026 12:00:10 GMT", 10 * time.Second, true},
		{"Saturday, 28-Nov-26 12:01:00 GMT", time.Minute, true},
		{"Sat Nov 28 12:00:03 2026", 3 * time.Second, true},
		{"Sat, 28 Nov 2026 11:00:00 GMT", 0, true},
		{"-1", 0, true},
		{"-0", 0, true},
		{"--1", 0, false},
		{"-", 0, false},
		{"1.5", 0, false},
		{"+3", 0, false},
		{"soon", 0, false},
		{"9000000000", 9000000000 * time.Second, true},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", math.MaxInt64, true},
		{"9300000000", math.MaxInt64, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"99999999999999999999999", math.MaxInt64, true},
		{"Sat, 28 Nov 2026 12:00:10", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			d, ok := retryAfter(http.Header{"Retry-After": {tt.value}}, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, d)
		})
	}
}

func TestBudgetArithmetic(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBudget()
	// Starts with one second of floor: 10 retries.
	for i := range 10 {
		require.True(t, b.withdraw(t0), "token %d", i)
	}
	require.False(t, b.withdraw(t0))
	// 100 requests deposit 10 tokens.
	for range 100 {
		b.deposit()
	}
	for i := range 10 {
		require.True(t, b.withdraw(t0), "token %d", i)
	}
	require.False(t, b.withdraw(t0))
	// Half a second of floor: 5 tokens.
	t1 := t0.Add(500 * time.Millisecond)
	for i := range 5 {
		require.True(t, b.withdraw(t1), "token %d", i)
	}
	require.False(t, b.withdraw(t1))
	// A long quiet spell banks at most 100 tokens.
	t2 := t1.Add(time.Hour)
	for range 1_000_000 {
		b.deposit()
	}
	got := 0
	for b.withdraw(t2) {
		got++
	}
	assert.Equal(t, 100, got)
	assert.False(t, b.withdraw(t2.Add(-time.Second)), "time going backwards adds nothing")
}

func TestBudgetOptions(t *testing.T) {
	t.Parallel()
	b := NewBudget(WithRatio(0.5), WithFloor(0))
	assert.False(t, b.withdraw(time.Now()), "no floor: starts empty")
	for range 4 {
		b.deposit()
	}
	assert.True(t, b.withdraw(time.Now()))
	assert.True(t, b.withdraw(time.Now()))
	assert.False(t, b.withdraw(time.Now()))
	assert.Equal(t, int64(10*unit), b.max)
	b = NewBudget(WithFloor(2))
	assert.Equal(t, int64(20*unit), b.max)
	assert.Equal(t, int64(2*unit), b.bucket.tokens)
	b = NewBudget(WithRatio(0.1), WithFloor(0))
	for i := range 1000 {
		b.deposit()
		assert.Equal(t, (i+1)%10 == 0, b.withdraw(time.Now()), "request %d: ten deposits of 0.1 make one token exactly", i)
	}
}
