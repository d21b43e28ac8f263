package hedge

import (
	"context"
	"sync/atomic"
	"time"
)

// firstCtx is the context of the first attempt, held by its race. Until the
// layer below first asks for Done it is the caller's context: Done, Err and
// Value answer from it. The first call to Done shows that the layer below can
// abandon the attempt when the context ends; only then does the race arm
// (see [race.arm]): the context becomes one the race can end, and the hedge
// timer is set, counting from the start of the attempt. An attempt that the
// layer below cannot abandon would hold the caller until it ends, whatever a
// hedge did. After the first attempt has returned without arming, Done
// returns the caller's channel.
//
// Once armed, the context ends when a hedge wins (Cause then returns
// errLost), when the caller is done with the first attempt's response or
// the attempt failed (context.Canceled), or when the caller's context ends
// (its error and cause).
//
// # Two ways to end it
//
// When the caller's context can end, the armed context is a
// context.WithCancelCause of it (three allocations: the context, its cancel
// function, its channel): the caller's context tells it of its end through
// its own bookkeeping, where watching it with context.AfterFunc would cost
// three allocations besides a channel.
//
// When the caller's context can never end (context.Background, the context
// of http.NewRequest), there is nothing to watch, and the armed context is
// the race's own: a Done channel, closed by [firstCtx.endAs], its only
// allocation. Contexts derived from it are told through AfterFunc, so that
// the context package starts no goroutine for them; over *http.Transport,
// which derives one from the request's, that costs two allocations (the
// context package's callback and its record of the stop function), as many
// as the map of children of a WithCancelCause context would.
// BenchmarkNoHedge and BenchmarkNoHedgeLoopback measure both ways.
type firstCtx struct {
	r     *race                           // its mu guards funcs, and the fields below until armed is set (they never change after)
	armed atomic.Bool                     // done is made; written under mu after done, inner, cancel and own
	end   atomic.Uint32                   // why the armed context ended (ctxEnd); written under mu
	lost  atomic.Pointer[context.Context] // the own context's values and cause once a hedge won, set before end

	done   <-chan struct{}         // the Done channel, made when the race arms
	inner  context.Context         // the armed context, when the caller's can end
	cancel context.CancelCauseFunc // inner's

	// The own context, when the caller's can never end:
	own    chan struct{} // done
	funcs  []func()      // registered through AfterFunc
	funcs0 [1]func()     // funcs' first slot, so that registering one costs nothing
}

// ctxEnd is why the first attempt's armed context ended.
type ctxEnd = uint32

const (
	notEnded ctxEnd = iota
	lost            // a hedge won: context.Canceled, cause errLost
	released        // the first attempt is over: context.Canceled
)

func (c *firstCtx) parent() context.Context { return c.r.req.Context() }

// Deadline returns the caller's deadline.
func (c *firstCtx) Deadline() (time.Time, bool) { return c.parent().Deadline() }

// Done arms the race on the first call, unless the first attempt has
// returned already, and returns the first attempt's Done channel.
func (c *firstCtx) Done() <-chan struct{} {
	if c.armed.Load() {
		return c.done
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done == nil {
		if r.firstDone {
			return c.parent().Done() // never ended by the race from now on
		}
		r.arm()
	}
	return c.done
}

// open makes the context one that the race can end. Called with r.mu held,
// once.
func (c *firstCtx) open() {
	if parent := c.parent(); parent.Done() != nil {
		c.inner, c.cancel = context.WithCancelCause(parent)
		c.done = c.inner.Done()
	} else {
		c.own = make(chan struct{})
		c.done = c.own
	}
	c.armed.Store(true)
}

// Err returns nil until the context ends, then the error of its end.
func (c *firstCtx) Err() error {
	switch {
	case !c.armed.Load():
		return c.parent().Err()
	case c.inner != nil:
		return c.inner.Err()
	case c.end.Load() != notEnded:
		return context.Canceled
	}
	return nil
}

// Value answers from the armed context, or from the caller's: the race's own
// context holds no values, except once a hedge won, when it answers from a
// context cancelled with errLost, which holds the caller's values, so that
// context.Cause finds errLost.
func (c *firstCtx) Value(key any) any {
	switch {
	case !c.armed.Load():
	case c.inner != nil:
		return c.inner.Value(key)
	default:
		if lc := c.lost.Load(); lc != nil {
			return (*lc).Value(key)
		}
	}
	return c.parent().Value(key)
}

// String describes the context, as the context package's own do.
func (c *firstCtx) String() string { return "hedge.firstAttempt" }

// AfterFunc lets the context package propagate the end of the race's own
// context to the contexts derived from it without a goroutine each: f runs
// once, when the context ends, on the goroutine that ends it; when the
// context has ended already, f runs on a goroutine of its own, as with
// context.AfterFunc. Any other context registers f with context.AfterFunc.
//
// For the race's own context, the stop function it returns does nothing and
// reports false: f stays registered until the context ends, and then runs.
// The context package ignores what stop reports, and what it registers is
// safe to run late: it cancels a derived context that is cancelled already,
// or calls the f of a context.AfterFunc that its own stop has disarmed. A
// stop that removed f would cost an allocation per derived context, and the
// context ends no later than the first attempt's response.
func (c *firstCtx) AfterFunc(f func()) (stop func() bool) {
	_ = c.Done() // arms the race if it still can
	r := c.r
	r.mu.Lock()
	switch {
	case c.done == nil: // the first attempt returned before the race armed
		r.mu.Unlock()
		return context.AfterFunc(c.parent(), f)
	case c.inner != nil:
		r.mu.Unlock()
		return context.AfterFunc(c.inner, f)
	case c.end.Load() != notEnded:
		r.mu.Unlock()
		go f()
		return noStop
	}
	if c.funcs == nil {
		c.funcs = c.funcs0[:0]
	}
	c.funcs = append(c.funcs, f)
	r.mu.Unlock()
	return noStop
}

func noStop() bool { return false }

// endAs ends the context for the reason e, unless it has ended or the race
// never armed, and runs the functions that derived contexts registered.
func (c *firstCtx) endAs(e ctxEnd) {
	r := c.r
	r.mu.Lock()
	if c.done == nil || c.end.Load() != notEnded {
		r.mu.Unlock()
		return
	}
	if c.inner != nil {
		c.end.Store(e)
		r.mu.Unlock()
		if e == lost {
			c.cancel(errLost)
		} else {
			c.cancel(nil)
		}
		return
	}
	if e == lost {
		lc, cancel := context.WithCancelCause(context.WithoutCancel(c.parent()))
		cancel(errLost)
		c.lost.Store(&lc)
	}
	c.end.Store(e) // before close: whoever sees Done closed sees Err non-nil
	close(c.own)
	funcs := c.funcs
	c.funcs = nil
	r.mu.Unlock()
	for _, f := range funcs {
		f()
	}
}
