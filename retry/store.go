package retry

import (
	"time"
	"weak"
)

// Store shares the tokens of Budgets between the processes of a fleet, so
// that the ratio of retries to requests holds for the fleet whatever the
// number of processes. The module github.com/rtchain/chain/redisstore
// implements it on Redis.
//
// A Store runs its own goroutine. For each [BudgetShare] given to
// ShareBudget, every round, it takes [BudgetShare.Pending], adds the
// deposit to the fleet's bucket (which refills by Floor tokens per second
// and holds at most Max, as a local Budget does), grants from it up to the
// tokens wanted, and hands the grant to [BudgetShare.Settle]. No retry
// waits for the Store: a retry spends tokens already granted to its
// process, or the process's own deposits of this round.
type Store interface {
	// ShareBudget starts syncing s in the background. It must not block.
	// The store drops s when Pending reports that its Budget is gone, or
	// when the store closes.
	ShareBudget(s *BudgetShare)
}

// WithStore shares the budget's tokens with the other processes of a fleet
// through s (off by default; a nil s turns it off). The fleet has one
// bucket per budget name: a [NewBudget]'s is "", each key of a
// [KeyedBudget] has its own (its overflow budget is shared as ""). Every
// request deposits Ratio tokens into it and the fleet's bucket refills by
// Floor tokens per second, so N processes in an outage send at most
// (1 + Ratio) × requests + Floor × (seconds + 1) attempts in all, not N
// Floors. A process retries with the tokens its requests deposited since
// the last round and those the fleet granted it; a new process has no
// granted token before its first round. When the store cannot reach the
// fleet, the budget works as a local one until it can again (its bucket
// starts empty then). Processes that share a budget should share its
// options. Given twice, the last wins.
func WithStore(s Store) BudgetOption {
	return func(b *Budget) { b.store = s }
}

// BudgetShare is a fleet [Budget]'s side of its exchange with a [Store].
// Its methods are for the store's goroutine: one round at a time. It refers
// to its Budget weakly, so a Budget that is no longer used can be
// collected; Pending then reports it gone.
type BudgetShare struct {
	b    weak.Pointer[Budget]
	name string
}

// BudgetRound is what a Budget sends in one round. Token amounts are in
// millionths of a token.
type BudgetRound struct {
	Name    string // the budget's name in the fleet
	Deposit int64  // tokens this process adds: Ratio per request since the last round, less those it spent itself
	Want    int64  // tokens it asks for
	Floor   int64  // the fleet's refill, per second
	Max     int64  // the most the fleet's bucket holds
}

// fleetShare is the fleet's side of a Budget in this process. It is
// guarded by the Budget's mu.
type fleetShare struct {
	lease  int64 // tokens granted by the fleet, not spent yet
	sent   int64 // requests deposited in rounds so far
	spent  int64 // tokens taken from this round's own deposits
	asked  int64 // retries asked for since the last round
	active bool  // the last round reached the fleet (or none was tried yet)
}

// share makes b a fleet budget named name.
func (b *Budget) share(name string) {
	b.fleet = &fleetShare{active: true, sent: b.requests.Load()}
	b.store.ShareBudget(&BudgetShare{b: weak.Make(b), name: name})
}

// take takes a token from the fleet's share and reports whether it got
// one; decided is false when the share is cut off from the fleet and the
// local rule decides. b.mu is held.
func (f *fleetShare) take(b *Budget) (ok, decided bool) {
	f.asked++
	if f.lease >= unit {
		f.lease -= unit
		return true, true
	}
	if !f.active {
		return false, false
	}
	if (b.requests.Load()-f.sent)*b.perRequest-f.spent >= unit {
		f.spent += unit
		return true, true
	}
	return false, true
}

// Pending returns what the Budget sends this round: its deposits since the
// last round and the tokens it wants, about as many as were asked for in
// the last round (at least one), less those it holds. ok is false once the
// Budget is gone: drop the share.
func (s *BudgetShare) Pending() (r BudgetRound, ok bool) {
	b := s.b.Value()
	if b == nil {
		return r, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fleet
	requests := b.requests.Load()
	r = BudgetRound{
		Name:    s.name,
		Deposit: max((requests-f.sent)*b.perRequest-f.spent, 0),
		Want:    min(max(max(f.asked, 1)*unit-f.lease, 0), b.max),
		Floor:   int64(b.floor * unit),
		Max:     b.max,
	}
	f.sent, f.spent, f.asked = requests, 0, 0
	if f.active {
		// The fleet holds the tokens: should the store fail, the local
		// rule starts from an empty bucket.
		b.bucket = bucket{settled: requests, last: time.Now()}
	}
	return r, true
}

// Settle hands the Budget the tokens the fleet granted this round. A
// non-nil err says the round did not reach the fleet: the Budget then
// works as a local one until a round succeeds.
func (s *BudgetShare) Settle(granted int64, err error) {
	b := s.b.Value()
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fleet
	f.active = err == nil
	if err == nil {
		f.lease = min(f.lease+max(granted, 0), b.max)
	}
}
