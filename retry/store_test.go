package retry_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/retry"
)

// memBudgets is a retry.Store in memory with a real store's rule: one
// bucket per name that starts with one second of floor, refills by the
// floor (here only when the test says time passed), takes deposits and
// grants up to the tokens wanted. round runs one exchange.
type memBudgets struct {
	mu      sync.Mutex
	shares  []*retry.BudgetShare
	buckets map[string]int64
	down    error // while set, rounds fail with it
}

func newMemBudgets() *memBudgets { return &memBudgets{buckets: map[string]int64{}} }

func (m *memBudgets) ShareBudget(s *retry.BudgetShare) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shares = append(m.shares, s)
}

// round exchanges every share once, after elapsed of floor refill, and
// returns the names of the live shares.
func (m *memBudgets) round(elapsed time.Duration) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var live []*retry.BudgetShare
	var names []string
	for _, s := range m.shares {
		r, ok := s.Pending()
		if !ok {
			continue
		}
		live, names = append(live, s), append(names, r.Name)
		if m.down != nil {
			s.Settle(0, m.down)
			continue
		}
		t, ok := m.buckets[r.Name]
		if !ok {
			t = r.Floor
		}
		t = min(t+int64(elapsed.Seconds()*float64(r.Floor)), r.Max)
		t = min(t+r.Deposit, r.Max)
		grant := min(t, r.Want)
		m.buckets[r.Name] = t - grant
		s.Settle(grant, nil)
	}
	m.shares = live
	return names
}

// drain withdraws from b until it refuses, and returns how many it got.
func drain(b *retry.Budget) int {
	n := 0
	for b.Withdraw() {
		n++
	}
	return n
}

func TestFleetBudgetSharesOneFloor(t *testing.T) {
	t.Parallel()
	// Two processes of a fleet, each with 100 requests: together they
	// retry at most one floor plus the ratio of all requests.
	s := newMemBudgets()
	budgets := []*retry.Budget{
		retry.NewBudget(retry.WithFloor(5), retry.WithStore(s)),
		retry.NewBudget(retry.WithFloor(5), retry.WithStore(s)),
	}
	got := 0
	for range 10 {
		for _, b := range budgets {
			for range 10 {
				b.Deposit()
			}
			got += drain(b) // its own deposits of this round
		}
		s.round(0)
		for _, b := range budgets {
			got += drain(b) // what the fleet granted
		}
	}
	for range 5 {
		for _, b := range budgets {
			b.Withdraw() // ask, so that the next round wants more
		}
		s.round(0)
		for _, b := range budgets {
			got += drain(b)
		}
	}
	assert.Equal(t, 5+20, got, "one floor of 5 for the fleet, plus 0.1 × 200 requests")

	local := 0
	for range 2 {
		b := retry.NewBudget(retry.WithFloor(5))
		for range 100 {
			b.Deposit()
		}
		local += drain(b)
	}
	assert.Equal(t, 2*(5+10), local, "local budgets: a floor each")
}

func TestFleetBudgetNewProcess(t *testing.T) {
	t.Parallel()
	// A new process has no token before its first round but its own
	// deposits; then the fleet grants it some.
	s := newMemBudgets()
	b := retry.NewBudget(retry.WithStore(s))
	assert.False(t, b.Withdraw(), "no floor of its own")
	for range 10 {
		b.Deposit()
	}
	assert.True(t, b.Withdraw(), "ten requests deposit one token")
	assert.False(t, b.Withdraw())
	s.round(0)
	assert.True(t, b.Withdraw(), "granted by the fleet")
}

func TestFleetBudgetDegraded(t *testing.T) {
	t.Parallel()
	// Cut off from the fleet, the budget works as a local one, from an
	// empty bucket; back in the fleet, it spends only fleet tokens again.
	s := newMemBudgets()
	b := retry.NewBudget(retry.WithFloor(1000), retry.WithStore(s))
	s.round(0)
	drain(b)
	s.down = errors.New("unreachable")
	s.round(0)
	time.Sleep(20 * time.Millisecond)
	assert.True(t, b.Withdraw(), "the local floor refills")

	s.down = nil
	s.round(0)
	drain(b)
	time.Sleep(20 * time.Millisecond)
	assert.False(t, b.Withdraw(), "in the fleet, the local floor does not count")
}

func TestFleetBudgetKeyedNames(t *testing.T) {
	t.Parallel()
	s := newMemBudgets()
	k := retry.NewKeyedBudget(4, retry.WithStore(s))
	a, b := k.Budget("a.test"), k.Budget("b.test")
	names := s.round(0)
	assert.ElementsMatch(t, []string{"", "a.test", "b.test"}, names, "one fleet bucket per key, and the overflow's")
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

func TestFleetBudgetCollected(t *testing.T) {
	s := newMemBudgets()
	func() { retry.NewBudget(retry.WithStore(s)).Deposit() }()
	for range 20 {
		runtime.GC()
		if len(s.round(0)) == 0 {
			return
		}
	}
	require.Fail(t, "the store still holds the share of a Budget nobody uses")
}
