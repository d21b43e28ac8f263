package hedge

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/internal/bubble"
)

// timerSlot is a reusable hedge timer. Its callback is bound once, so a race
// that takes a slot from the pool costs no allocation for its timer. A slot
// serves one race at a time, its user: when the timer fires it makes the
// user, if any, check whether its next hedge is due (see [race.fire]); a slot
// with no user does nothing. A firing that was already on its way when the
// previous user stopped the timer and let the slot go may reach the next
// user early: harmless, since the user compares the clock with its own due
// time and sets the timer again.
type timerSlot struct {
	t      *time.Timer
	user   atomic.Pointer[race]
	pooled bool // made outside a testing/synctest bubble: goes back to the pool
}

func (sl *timerSlot) fire() {
	if r := sl.user.Load(); r != nil {
		r.fire(sl)
	}
}

// publish makes r the slot's user and sets the timer to fire after d. Every
// field r.fire reads must be written before publish.
func (sl *timerSlot) publish(r *race, d time.Duration) {
	sl.user.Store(r)
	sl.t.Reset(d)
}

// slots is a Transport's pool of timer slots.
//
// A timer made inside a testing/synctest bubble belongs to that bubble: it
// runs on the bubble's clock and may not be touched from outside it, and a
// timer made outside would run on the real clock inside one. So only slots
// made outside every bubble are pooled; inside a bubble each race makes a
// slot of its own and drops it at the end, and a Transport works inside and
// outside bubbles alike.
type slots struct{ pool sync.Pool }

// get returns a slot, its timer stopped or about to fire for nobody. now is
// the caller's reading of time.Now, which tells whether it runs in a bubble.
func (p *slots) get(now time.Time) *timerSlot {
	pooled := !bubble.In(now)
	if pooled {
		if sl, _ := p.pool.Get().(*timerSlot); sl != nil {
			return sl
		}
	}
	sl := &timerSlot{pooled: pooled}
	sl.t = time.AfterFunc(time.Hour, sl.fire)
	sl.t.Stop()
	return sl
}

// put stops sl's timer, clears its user and returns it to the pool if it
// belongs there.
func (p *slots) put(sl *timerSlot) {
	sl.t.Stop()
	sl.user.Store(nil)
	if sl.pooled {
		p.pool.Put(sl)
	}
}
