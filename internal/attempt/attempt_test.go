package attempt_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/attempt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAttempt(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, 0, attempt.From(ctx))
	assert.False(t, attempt.Last(ctx))
	assert.Equal(t, 2, attempt.From(attempt.With(ctx, 2)))
	assert.False(t, attempt.Last(attempt.With(ctx, 2)))
	assert.Equal(t, 3, attempt.From(attempt.With(attempt.With(ctx, 2), 3)))
}

func TestLast(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 2, 300} {
		last := attempt.WithLast(ctx, n)
		assert.Equal(t, n, attempt.From(last))
		assert.True(t, attempt.Last(last))
		// A later numbering replaces the mark.
		assert.False(t, attempt.Last(attempt.With(last, n+1)))
	}
}

func TestHedge(t *testing.T) {
	ctx := context.Background()
	if attempt.Hedge(ctx) {
		t.Fatal("a plain context is a hedge")
	}
	h := attempt.WithHedge(attempt.With(ctx, 2))
	if !attempt.Hedge(h) || attempt.From(h) != 2 {
		t.Errorf("Hedge = %v, From = %d; want true, 2", attempt.Hedge(h), attempt.From(h))
	}
}
