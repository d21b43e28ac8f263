package hedge

import (
	"fmt"
	"net/http"
	"time"
)

// Option configures a [Transport] in [New] and [Middleware]. Options apply in
// order. An out-of-range value panics when the option is made, with a message
// naming the option.
type Option func(*config)

// Budget is the source of tokens that hedges spend: one [Budget.Withdraw] per
// hedge, and no hedge when it reports false. *retry.Budget satisfies it, so
// the retry layer and the hedge layer can share one budget. Implementations
// must be safe for concurrent use; Withdraw is called under the lock of one
// request's race, so it must not call back into the Transport.
type Budget interface {
	Withdraw() bool
}

// Event describes a hedge, for [WithOnHedge]. The hook is called once when a
// hedge is sent (Won false) and, if that hedge's response headers arrive
// before those of every other attempt, once more when it wins (Won true).
type Event struct {
	// Request is the caller's request. Read it, never change it.
	Request *http.Request
	// Hedge is the number of the hedge: 1 for the first.
	Hedge int
	// Delay is how long after the first attempt started the hedge was sent.
	Delay time.Duration
	// Won reports whether the hedge's response came first and is the one
	// returned.
	Won bool
}

// config is the resolved configuration of a Transport.
type config struct {
	delay     time.Duration // fixed delay; 0: adaptive
	quantile  float64
	floor     time.Duration
	ceiling   time.Duration
	maxHedges int
	budget    Budget
	onHedge   []func(Event)
}

// Defaults of the options.
const (
	defaultQuantile  = 0.95
	defaultFloor     = 5 * time.Millisecond
	defaultCeiling   = 2 * time.Second
	defaultMaxHedges = 1
)

func resolve(opts []Option) config {
	c := config{
		quantile:  defaultQuantile,
		floor:     defaultFloor,
		ceiling:   defaultCeiling,
		maxHedges: defaultMaxHedges,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithDelay makes every hedge wait a fixed d after the attempt before it (the
// first hedge d after the first attempt started, the next one d later),
// instead of the host's recent latency. d must be > 0. WithDelay and
// [WithQuantile] both choose how the delay is found: of the two, the last
// given wins.
func WithDelay(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("hedge: WithDelay(%v): need a delay > 0", d))
	}
	return func(c *config) { c.delay = d }
}

// WithQuantile makes the delay the quantile q of the host's recent times to
// response headers (see the package doc), clamped to [WithDelayBounds]. The
// default is 0.95 (P95); q must be in (0, 1). WithQuantile and [WithDelay]
// both choose how the delay is found: of the two, the last given wins.
//
// Pick a q whose latency sits in the fast mode of the host: if 5 % of the
// responses are slow, q = 0.95 lands on the edge of the slow mode and the
// delay may be as long as the tail it should cut; 0.9 does not.
func WithQuantile(q float64) Option {
	if !(q > 0 && q < 1) {
		panic(fmt.Sprintf("hedge: WithQuantile(%v): need 0 < q < 1", q))
	}
	return func(c *config) { c.quantile, c.delay = q, 0 }
}

// WithDelayBounds clamps the delay measured from the host's latency to
// [floor, ceiling]; until a host has enough samples, its delay is ceiling.
// The defaults are 5 ms and 2 s; it needs 0 < floor ≤ ceiling. A fixed delay
// ([WithDelay]) is not clamped. Given twice, the last wins.
func WithDelayBounds(floor, ceiling time.Duration) Option {
	if floor <= 0 || ceiling < floor {
		panic(fmt.Sprintf("hedge: WithDelayBounds(%v, %v): need 0 < floor ≤ ceiling", floor, ceiling))
	}
	return func(c *config) { c.floor, c.ceiling = floor, ceiling }
}

// WithMaxHedges sets how many hedges one attempt may get, each one delay after
// the one before, while no response has arrived. The default is 1; n must be
// at least 1. Given twice, the last wins.
func WithMaxHedges(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("hedge: WithMaxHedges(%d): need at least 1", n))
	}
	return func(c *config) { c.maxHedges = n }
}

// WithBudget makes every hedge take a token from b first, and go out only if
// it gets one. Share b with the retry layer (a *retry.Budget) so that retries
// and hedges together stay within its ratio. The hedge layer never deposits:
// the retry layer above it counts each request in the budget; without a retry
// layer, call the budget's Deposit for each request yourself, or it earns only
// its floor. Without this option, or with a nil b, the layer is unbudgeted:
// hedges are bounded only by [WithMaxHedges]. Given twice, the last wins.
func WithBudget(b Budget) Option {
	return func(c *config) { c.budget = b }
}

// WithOnHedge adds a hook called when a hedge is sent and when a hedge wins
// (see [Event]), on the goroutine that sends the hedge, outside every lock; it
// must return quickly. A win is reported before the caller's RoundTrip
// returns. Given several times, every hook is called, in the order given. A
// nil f is ignored.
func WithOnHedge(f func(Event)) Option {
	return func(c *config) {
		if f != nil {
			c.onHedge = append(c.onHedge[:len(c.onHedge):len(c.onHedge)], f)
		}
	}
}

// clamp bounds an adaptive delay; 0 (not enough samples) gives the ceiling.
func (c *config) clamp(d time.Duration) time.Duration {
	if d == 0 {
		return c.ceiling
	}
	return min(max(d, c.floor), c.ceiling)
}

func (c *config) hook(e Event) {
	for _, f := range c.onHedge {
		f(e)
	}
}
