package hedge_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
)

func TestSettings(t *testing.T) {
	assert.Equal(t, hedge.Settings{Quantile: 0.95, Floor: 5 * time.Millisecond, Ceiling: 2 * time.Second, MaxHedges: 1},
		hedge.New(nil).Settings(), "the documented defaults")
	b := retry.NewBudget()
	s := hedge.New(nil, hedge.WithDelay(time.Second), hedge.WithMaxHedges(2), hedge.WithBudget(b)).Settings()
	assert.Equal(t, time.Second, s.Delay)
	assert.Equal(t, 2, s.MaxHedges)
	assert.Same(t, b, s.Budget)
}
