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
	assert.Equal(t, 2, attempt.From(attempt.With(ctx, 2)))
	assert.Equal(t, 3, attempt.From(attempt.With(attempt.With(ctx, 2), 3)))
}
