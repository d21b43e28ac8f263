package timeouts

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/internal/bubble"
)

// clock reads monotonic nanoseconds since its epoch: cheap to compare and
// store in an int64. A Transport and a Total each have their own, made at
// construction (inside a testing/synctest bubble, it runs on the bubble's
// clock).
type clock struct {
	epoch time.Time
	fake  bool // made inside a bubble
}

func newClock() clock {
	now := time.Now()
	return clock{epoch: now, fake: bubble.In(now)}
}

// bubbled reports whether now, a reading of c, was taken inside a
// testing/synctest bubble: when c was made in one, or when the reading comes
// before c's epoch, which happens only in a bubble (its clock starts at
// midnight UTC on 2000-01-01, so a clock made outside reads a negative time
// there).
func (c clock) bubbled(now int64) bool { return c.fake || now <= 0 }

// now returns the time since the epoch plus 1ns, so that 0 can mean "not
// set".
func (c clock) now() int64 { return int64(time.Since(c.epoch)) + 1 }

// at returns the time of a reading.
func (c clock) at(mono int64) time.Time { return c.epoch.Add(time.Duration(mono - 1)) }

// tick returns the tick interval for a bound of d: a sixteenth of it, at
// least a millisecond.
func tick(d time.Duration) time.Duration { return max(d/16, time.Millisecond) }

// ticker is what a timer slot wakes: it checks its bounds and sets the next
// tick while one is running.
type ticker[T any] interface {
	*T
	onTimer()
}

// timerSlot is a reusable timer. Its callback is bound once, so a round trip
// costs no allocation for its timer, and it is never stopped: a slot goes back
// to the pool with its timer still set, and the next user that takes it
// resets it only when it needs to fire sooner. When the timer fires it makes
// the slot's user, if any, check its bounds and set the next tick; a slot with
// no user does nothing. So a steady stream of short round trips costs no timer
// operation at all, and a stale firing is harmless: the user compares the
// clock with its own deadlines.
type timerSlot[T any, P ticker[T]] struct {
	t     *time.Timer
	armed atomic.Int64 // the interval t was last set to (so it fires within it), or 0 when not set
	user  atomic.Pointer[T]
	fake  bool // made inside a testing/synctest bubble: never pooled (see slots)
}

// fire clears armed before it loads the user, and a user publishes what it
// needs watched before it loads armed: either the user sees armed == 0 and
// sets the timer, or fire sees the user's state.
func (sl *timerSlot[T, P]) fire() {
	sl.armed.Store(0)
	if u := sl.user.Load(); u != nil {
		P(u).onTimer()
	}
}

// soonEnough reports whether the timer is set to fire within d.
func (sl *timerSlot[T, P]) soonEnough(d time.Duration) bool {
	a := sl.armed.Load()
	return a != 0 && a <= int64(d)
}

// arm sets the timer to fire within d, unless it is set to fire sooner. The
// caller serialises calls for one user.
func (sl *timerSlot[T, P]) arm(d time.Duration) {
	if sl.soonEnough(d) {
		return
	}
	sl.armed.Store(int64(d))
	sl.t.Reset(d)
}

// slots is a pool of timer slots, one pool per Transport or Total.
//
// A timer made inside a testing/synctest bubble belongs to the bubble: it
// runs on the bubble's clock, which stops with the bubble, and may not be
// reset from outside it; a timer made outside runs on the real clock, and
// its firing would touch the bubble's channels from outside. So inside a
// bubble each round trip makes its own timer and drops it at the end; outside,
// slots are reused. Telling the two apart costs a reading of the clock per
// round trip.
type slots[T any, P ticker[T]] struct{ pool sync.Pool }

// get takes a slot from the pool (or makes one). Its timer may still be set
// from an earlier user and fire at any moment; it does nothing until a user
// is published with [timerSlot.publish]. inBubble tells whether the caller runs
// inside a testing/synctest bubble: there it gets a slot of its own, which
// no other round trip will use.
func (p *slots[T, P]) get(inBubble bool) *timerSlot[T, P] {
	var sl *timerSlot[T, P]
	if !inBubble {
		sl, _ = p.pool.Get().(*timerSlot[T, P])
	}
	if sl == nil {
		sl = &timerSlot[T, P]{fake: inBubble}
		sl.t = time.AfterFunc(time.Hour, sl.fire)
		sl.t.Stop()
	}
	return sl
}

// publish makes u the slot's user: from here on a firing calls u.onTimer, on
// the timer's goroutine. Everything u's onTimer reads (its slot field
// included) must be written before publish.
func (sl *timerSlot[T, P]) publish(u *T) { sl.user.Store(u) }

// put returns sl to the pool, its timer still set (see timerSlot), unless it
// was made in a bubble.
func (p *slots[T, P]) put(sl *timerSlot[T, P]) {
	sl.user.Store(nil)
	if !sl.fake {
		p.pool.Put(sl)
	}
}
