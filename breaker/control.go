package breaker

import (
	"github.com/rtchain/chain/internal/hostkey"
)

// The methods below read and steer breakers by key. With the default key
// function, a key is lower-cased as the request keys are ("API.example" finds
// "api.example"); pass a key with a port as [Transport.Keys] lists it.

// State returns the state of the breaker for key. A key with no breaker
// (never used, or dropped while closed and idle) is Closed: its calls would go
// through. An open breaker whose OpenDuration is over turns half-open here,
// a probe past its deadline fails here, and the state-change hooks run.
func (t *Transport) State(key string) State {
	c := t.reg.lookup(t.normKey(key))
	if c == nil {
		return Closed
	}
	return c.state(t, t.now())
}

// Counts returns the counts that caused the latest transition of the breaker
// for key: the windows that tripped it, or the probes that closed or
// reopened it (a turn from open to half-open keeps the counts that opened
// it). It is the zero Counts before any transition and after [Transport.Reset].
// It is safe to call from a state-change hook.
func (t *Transport) Counts(key string) Counts {
	c := t.reg.lookup(t.normKey(key))
	if c == nil {
		return Counts{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Window returns the live counts of the breaker for key: its windows when
// closed, its probes so far when half-open, and zero when open or unknown.
func (t *Transport) Window(key string) Counts {
	c := t.reg.lookup(t.normKey(key))
	if c == nil {
		return Counts{}
	}
	return c.window(t, t.now())
}

// Keys returns the keys that have a breaker, sorted.
func (t *Transport) Keys() []string { return t.reg.keys() }

// ForceOpen opens the breaker for key, making one if needed (even past
// [WithMaxKeys]), and keeps it open until [Transport.Reset]: every call is
// rejected with an [*OpenError] whose RetryIn is 0. Use it to drain a host.
// The state-change hooks run if the breaker was not open.
func (t *Transport) ForceOpen(key string) {
	at := t.now()
	k := t.normKey(key)
	c := t.reg.get(t, k, t.cfg.Load(), at, nil)
	c.mu.Lock()
	for c.evicted.Load() {
		// Dropped from the registry between the lookup and the lock
		// (eviction marks a circuit under its lock): take the new one.
		c.mu.Unlock()
		c = t.reg.get(t, k, t.cfg.Load(), at, nil)
		c.mu.Lock()
	}
	c.forced = true
	st := c.st.Load()
	if State(st&stateMask) == Open {
		c.openUntil.Store(openForever)
		c.mu.Unlock()
		return
	}
	cfg := t.cfg.Load()
	c.set(cfg, st, Open, at, c.live(cfg, st, at))
	c.mu.Unlock()
	c.flush()
}

// Reset closes the breaker for key with a fresh window, ends a pause and
// undoes ForceOpen. Outcomes of calls that started before are not counted.
// The state-change hooks run if the breaker was not closed. A key with no
// breaker is left alone.
func (t *Transport) Reset(key string) {
	c := t.reg.lookup(t.normKey(key))
	if c == nil {
		return
	}
	at := t.now()
	c.mu.Lock()
	c.forced = false
	c.pausedUntil.Store(0)
	c.set(t.cfg.Load(), c.st.Load(), Closed, at, Counts{})
	c.mu.Unlock()
	c.flush()
}

// normKey normalises a key given to a method the way the default key
// function normalises a request's host.
func (t *Transport) normKey(key string) string {
	if t.cfg.Load().defaultKey {
		return hostkey.Normalize("", key)
	}
	return key
}
