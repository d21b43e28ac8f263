package breaker

import (
	"net/http"
	"time"
	"weak"
)

// Store shares the state of breakers between the processes of a fleet, so
// that they learn together that a host is down: an open key opens in every
// process, and the probes of any process close it for all. The module
// github.com/rtchain/chain/redisstore implements it on Redis.
//
// A Store runs its own goroutine. It calls the [Replica] of each breaker
// given to ShareBreaker, one round at a time: [Replica.Collect] the local
// changes, exchange them with the other processes, [Replica.Merge] what the
// fleet holds, and [Replica.Behind] for keys the fleet has open that the
// breaker has not caught up with. Nothing on a request's path waits for the
// Store: each process decides admission from its own state, which the
// rounds keep within an interval or two of the fleet's.
type Store interface {
	// ShareBreaker starts syncing r in the background. It must not block.
	// The store drops r when Collect reports that its Transport is gone, or
	// when the store closes.
	ShareBreaker(r *Replica)
}

// Entry is what a fleet shares of one breaker key. In [Replica.Collect] and
// [Replica.Behind] it is a process's own state and the counts it added
// since the last round; in [Replica.Merge] it is what the store holds.
//
// A store keeps, per key, the entry with the highest Generation: an entry
// with a lower or equal one changes nothing but the pause (a stale write
// never undoes a newer transition; of two transitions to the same
// generation, the first stored wins). It adds the Buckets of an entry to
// the record only when their Generation is the stored one, and keeps the
// latest PausedUntil.
type Entry struct {
	Key         string
	Generation  uint64    // counts the key's transitions
	State       State     // in Generation
	OpenUntil   time.Time // when an Open key turns half-open; the zero Time: open until Reset
	PausedUntil time.Time // a server's Retry-After pauses the key until then; the zero Time: no pause
	Buckets     []Bucket  // counts of Generation: window buckets of a closed key, probes of a half-open one

	// Epoch names the record a store holds (set in Merge). It changes when
	// the store lost what was pushed before (flushed, expired), and the
	// process then pushes its counts again.
	Epoch string
}

// Bucket is a share of a key's counts that adds up across processes: one
// time slot of one window, or the probes of a half-open generation.
type Bucket struct {
	ID   string    // opaque to the store: the window, its bucket width and time slot, or the probes
	End  time.Time // after it, the bucket is out of every window: the store may drop it
	Sums []int64   // in Collect the increments since the last round; in Merge the fleet's totals
	Max  int64     // a maximum over the processes (the slowest call, in nanoseconds); 0: none
	Min  int64     // a minimum over the processes' positive values; 0: none
}

// WithStore shares the breakers' state with the other processes of a fleet
// through s (off by default; a nil s turns it off). The store's goroutine
// keeps each key within about two of its sync intervals of the fleet:
// transitions of any process are adopted, window counts add up (every
// process judges the fleet's windows), and half-open probes are counted
// for the fleet, so recovery needs the probes of the fleet, not of each
// process. Admission stays local: no call waits for the store, and when the
// store is unreachable the breakers go on alone. The state-change hooks run
// for adopted transitions too, from the store's goroutine. With a store,
// the breaker's timeline is the wall clock (of [WithClock], when given), so
// that processes agree on times; their clocks should be in sync (NTP).
// Processes that share keys should share settings. It is read at
// construction; Update keeps the original store. Given twice, the last wins.
func WithStore(s Store) Option {
	return func(c *config) { c.store = s }
}

// Replica is a breaker [Transport]'s side of its exchange with a [Store].
// Its methods are for the store's goroutine: one round at a time, never
// concurrently. It refers to its Transport weakly, so a Transport that is
// no longer used can be collected; Collect then reports it gone.
type Replica struct {
	t weak.Pointer[Transport]
}

// share puts t's timeline on the wall clock's and hands t to s.
func (t *Transport) share(s Store) {
	// Nanoseconds since the Unix epoch: processes agree on every time the
	// breaker keeps, and window slots line up across the fleet.
	t.base = t.base.Add(-time.Duration(t.base.UnixNano()))
	s.ShareBreaker(&Replica{t: weak.Make(t)})
}

// Collect returns the keys this process should exchange with the fleet
// now: those with calls since the last rounds, local changes, or a state
// other than closed here or in the fleet. ok is false once the Transport is
// gone: drop the Replica.
func (r *Replica) Collect() (entries []Entry, ok bool) {
	t := r.t.Value()
	if t == nil {
		return nil, false
	}
	at := t.now()
	for _, c := range t.reg.circuits() {
		if c.wanted(t, at) {
			entries = append(entries, c.entry(t, at))
		}
	}
	return entries, true
}

// Behind returns the entries of the keys in open (key → the fleet's
// generation, for keys the fleet holds open or half-open) that this
// breaker lags behind, making a breaker for a key it lacks when there is
// room (see [WithMaxKeys]). Exchange them and pass the result to Merge, so
// that a process that never called a host rejects its calls as the fleet
// does.
func (r *Replica) Behind(open map[string]uint64) []Entry {
	t := r.t.Value()
	if t == nil {
		return nil
	}
	at := t.now()
	cfg := t.cfg.Load()
	var entries []Entry
	for key, gen := range open {
		c := t.reg.lookup(key)
		if c != nil && c.st.Load()>>stateBits >= gen {
			continue
		}
		if c == nil {
			// A request without a URL: no spelling to remember, and no
			// room made past the bound.
			if c = t.reg.get(t, key, cfg, at, &http.Request{}); c == nil {
				continue
			}
		}
		entries = append(entries, c.entry(t, at))
	}
	return entries
}

// Merge adopts what the fleet holds: for each entry, a later generation
// (or another state in the same one) becomes the key's state, the fleet's
// counts join the key's windows or probes, which may trip, close or reopen
// it here, and a later pause is kept. Entries of unknown keys are ignored,
// and so are entries that cannot be valid (a state out of range, a
// generation beyond 2^40).
func (r *Replica) Merge(fleet []Entry) {
	t := r.t.Value()
	if t == nil {
		return
	}
	for i := range fleet {
		e := &fleet[i]
		if e.State > HalfOpen || e.Generation >= 1<<40 {
			continue
		}
		if c := t.reg.lookup(e.Key); c != nil && c.sync != nil {
			c.merge(t, e)
		}
	}
}

// fleetAt returns w on the Transport's timeline; the zero Time is never.
func (t *Transport) fleetAt(w time.Time) int64 {
	if w.IsZero() {
		return openForever
	}
	return max(int64(w.Sub(t.base)), 0)
}
