package retry

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Budget limits retries to a share of the requests, so that an outage does
// not multiply the load on a struggling server. It is a token bucket in the
// spirit of gRPC retry throttling and Finagle's retry budget:
//
//   - every request (first attempt) deposits Ratio tokens (default 0.1);
//   - the bucket also refills by Floor tokens per second (default 10), so a
//     quiet client can still retry;
//   - every retry takes one token, and is refused when less than one is left;
//   - the bucket holds at most max(10·Floor, 10) tokens, so a long healthy
//     period cannot bank a retry storm, and starts with Floor tokens (one
//     second of floor).
//
// So from a new Budget, over T seconds, retries ≤ Ratio·requests +
// Floor·(T+1), and during a total outage the server sees about
// 1 + Ratio attempts per request once the request rate is well above
// Floor/Ratio.
//
// A Budget is safe for concurrent use and meant to be shared: give the same
// one to every Transport that talks to the same service with [WithBudget]. It
// starts no goroutine. With [WithStore], the processes of a fleet share one
// bucket, and the bound holds for the fleet. Counting a request costs one
// atomic add; the bucket itself is settled under a mutex only when a retry
// asks for a token.
type Budget struct {
	ratio float64
	floor float64 // tokens per second

	// Token amounts are counted in millionths, so that ten deposits of 0.1
	// make exactly one token.
	perRequest int64 // ratio, in millionths
	max        int64

	requests atomic.Int64 // requests ever deposited

	mu     sync.Mutex // guards bucket and fleet
	bucket bucket
	store  Store       // WithStore's; nil: a local budget
	fleet  *fleetShare // the fleet's tokens held here; nil without a store
}

// bucket is the settled state of a Budget's token bucket: all its
// arithmetic is in [Budget.take], so that the state can live elsewhere
// (shared between processes) without changing the rule.
type bucket struct {
	tokens  int64     // in millionths
	settled int64     // requests already turned into tokens
	last    time.Time // when the floor was last added; zero before the first retry
}

const unit = 1_000_000 // one token, in millionths

// BudgetOption configures a [Budget] made by [NewBudget].
type BudgetOption func(*Budget)

// WithRatio sets the share of requests that may be retried: each request
// deposits f tokens and each retry takes one. The default is 0.1 (10 %);
// f must be in [0, 10], 0 leaves only the floor. Given twice, the last wins.
func WithRatio(f float64) BudgetOption {
	if !(f >= 0 && f <= 10) {
		panic(fmt.Sprintf("retry: WithRatio(%v): need 0 ≤ ratio ≤ 10", f))
	}
	return func(b *Budget) { b.ratio = f }
}

// WithFloor sets how many retries per second the budget allows whatever
// the request rate. The default is 10; perSecond must be in [0, 1e6], 0
// leaves only the ratio. It also sets the bucket size to max(10·perSecond,
// 10) and the starting balance to perSecond. Given twice, the last wins.
func WithFloor(perSecond float64) BudgetOption {
	if !(perSecond >= 0 && perSecond <= 1e6) {
		panic(fmt.Sprintf("retry: WithFloor(%v): need 0 ≤ rate ≤ 1e6", perSecond))
	}
	return func(b *Budget) { b.floor = perSecond }
}

// Default budget settings.
const (
	defaultRatio = 0.1
	defaultFloor = 10
)

// NewBudget returns a full-default budget when called with no option:
// ratio 0.1, floor 10 retries per second, at most 100 tokens banked.
func NewBudget(opts ...BudgetOption) *Budget { return newBudget("", opts) }

// newBudget makes a Budget shared as name when a store is given.
func newBudget(name string, opts []BudgetOption) *Budget {
	b := &Budget{ratio: defaultRatio, floor: defaultFloor}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	b.perRequest = int64(math.Round(b.ratio * unit))
	b.max = int64(math.Max(10*b.floor, 10) * unit)
	b.bucket.tokens = int64(b.floor * unit)
	if b.store != nil {
		b.share(name)
	}
	return b
}

// deposit counts one request.
func (b *Budget) deposit() { b.requests.Add(1) }

// withdraw takes one token for a retry at now and reports whether it got one.
func (b *Budget) withdraw(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fleet != nil {
		if ok, decided := b.fleet.take(b); decided {
			return ok
		}
	}
	return b.take(&b.bucket, b.requests.Load(), now)
}

// take settles the requests deposited so far (requests in all) and the
// floor's refill up to now into s, then takes one token from s and reports
// whether there was one.
func (b *Budget) take(s *bucket, requests int64, now time.Time) bool {
	if n := requests - s.settled; n > 0 {
		s.tokens += min(n, b.max/max(b.perRequest, 1)+1) * b.perRequest
	}
	s.settled = requests
	if !s.last.IsZero() {
		if dt := now.Sub(s.last); dt > 0 {
			s.tokens += int64(math.Min(dt.Seconds()*b.floor*unit, float64(b.max)))
		}
	}
	// Only forward: a caller that read the clock before another took the
	// lock must not move last back and have the floor credited twice.
	if now.After(s.last) {
		s.last = now
	}
	s.tokens = min(s.tokens, b.max)
	if s.tokens < unit {
		return false
	}
	s.tokens -= unit
	return true
}

// Deposit counts one request (a first attempt) in the budget. The retry
// layer calls it for every request it sends; call it yourself only for
// requests that reach the server by another path and should earn extra
// attempts (a hedging layer used without a retry layer above it, say).
func (b *Budget) Deposit() { b.deposit() }

// Withdraw takes one token for an extra attempt (a retry, or a hedge of the
// hedge package) and reports whether it got one. An extra attempt that gets
// no token must not be sent. It reads the wall clock for the floor's refill.
func (b *Budget) Withdraw() bool { return b.withdraw(time.Now()) }
