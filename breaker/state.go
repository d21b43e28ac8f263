package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// State is the state of one breaker.
type State uint8

// The states of a breaker. The zero value is Closed.
const (
	Closed   State = iota // calls go through and their outcomes are counted
	Open                  // calls are rejected with an *OpenError until OpenDuration has passed
	HalfOpen              // a limited number of probes go through; the rest are rejected
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Counts is a snapshot of the outcomes a breaker counted: the window of a
// closed breaker, or the probes of a half-open one. Calls cancelled by their
// caller are not counted; rejected calls are not outcomes.
type Counts struct {
	Requests           int           // outcomes counted
	Failures           int           // of which failures
	SlowCalls          int           // of which at least as slow as WithSlowCall's threshold
	Concurrent         int           // of which overlapped another call to the same key
	ConcurrentFailures int           // of which overlapped another call and failed
	P99                time.Duration // 99th percentile of time to response headers, from the histogram
}

const (
	stateBits = 2
	stateMask = 1<<stateBits - 1
)

// circuit is the breaker of one key. Its state and generation live in st so
// that the closed path reads them with one atomic load; every change of st
// happens under mu. A new generation starts with every transition, and an
// outcome is counted only in the generation it started in.
type circuit struct {
	// Read on every call, written rarely.
	key       string
	st        atomic.Uint64             // generation<<stateBits | State
	openUntil atomic.Int64              // when an open circuit turns half-open, on the Transport's timeline
	width     atomic.Int64              // bucket width of the window, in nanoseconds
	pending   atomic.Uint32             // pendingAll | pendingConc: a bad outcome came while too few outcomes were there to judge
	evicted   atomic.Bool               // dropped from the registry; admitters look the key up again
	lastUse   atomic.Uint64             // the newest time slot of the window that holds outcomes, for eviction order
	epochs    [numBuckets]atomic.Uint64 // the epoch (generation and time slot) each bucket holds
	_         [64]byte                  // keep the counters below off the cache lines of the fields above

	// Written on every call.
	flight  atomic.Uint64 // calls started (high 32 bits) and calls in flight (low 32 bits)
	_       [56]byte
	buckets [numBuckets]bucket

	mu       sync.Mutex       // guards changes of st and buckets' clearing, and the fields below
	used     [numBuckets]bool // the bucket may hold counts
	probing  int              // probes in flight
	probes   tally            // counted probe outcomes of the current half-open generation
	cause    Counts           // the counts that caused the last transition
	events   []event          // transitions not yet handed to the hook, oldest first
	flushing bool             // a caller is handing events to the hook
}

// Bits of circuit.pending.
const (
	pendingAll  = 1 << iota // the window held fewer than MinRequests outcomes
	pendingConc             // ... or fewer than MinRequests overlapping ones, with an overlapping failure
)

type event struct {
	from, to State
	hook     func(key string, from, to State)
}

// ticket is what an admitted call carries to its end.
type ticket struct {
	st  uint64 // st when admitted: the generation and whether the call is a probe
	seq uint64 // c.flight right after the call started
}

type verdict uint8

const (
	admitted verdict = iota
	rejected
	gone // the circuit was evicted: look the key up again
)

func newCircuit(key string, cfg *config) *circuit {
	c := &circuit{key: key}
	c.width.Store(cfg.width)
	for i := range c.epochs {
		c.epochs[i].Store(noEpoch) // so that the first record rotates and marks it used
	}
	return c
}

// state returns the state at time at, turning an open circuit whose time is up
// half-open.
func (c *circuit) state(t *Transport, at int64) State {
	st := c.st.Load()
	if State(st&stateMask) == Open && at >= c.openUntil.Load() {
		c.halfOpen(t, st, at)
		st = c.st.Load()
	}
	return State(st & stateMask)
}

// admit decides whether a call starting at time at may go through. When it
// returns rejected, retryIn is the time left before the circuit turns
// half-open.
func (c *circuit) admit(t *Transport, cfg *config, at int64) (tk ticket, retryIn time.Duration, v verdict) {
	for {
		st := c.st.Load()
		switch State(st & stateMask) {
		case Closed:
			seq := c.flight.Add(1<<32 | 1)
			if c.evicted.Load() {
				c.flight.Add(^uint64(0))
				return tk, 0, gone
			}
			return ticket{st: st, seq: seq}, 0, admitted
		case Open:
			if until := c.openUntil.Load(); at < until {
				return tk, time.Duration(until - at), rejected
			}
			c.halfOpen(t, st, at)
		default:
			c.mu.Lock()
			if c.st.Load() != st {
				c.mu.Unlock()
				continue
			}
			if c.probing+int(c.probes.requests) >= cfg.probes {
				// Update may have lowered the number of probes below those
				// already counted: decide now rather than wait forever.
				if to := c.judge(cfg); c.probing == 0 && to != HalfOpen {
					c.set(cfg, st, to, at, c.probes.counts())
					c.mu.Unlock()
					c.flush()
					continue
				}
				c.mu.Unlock()
				return tk, 0, rejected
			}
			c.probing++
			c.mu.Unlock()
			return ticket{st: st, seq: c.flight.Add(1<<32 | 1)}, 0, admitted
		}
	}
}

// done ends an admitted call at time at with outcome o, judged with cfg (the
// settings the call started with); counted is false for a call with no
// outcome (cancelled by its caller, or next panicked), which only frees its
// place.
func (c *circuit) done(t *Transport, cfg *config, tk ticket, at int64, o obs, counted bool) {
	after := c.flight.Add(^uint64(0))
	o.overlapped = uint32(tk.seq) > 1 || after>>32 != tk.seq>>32
	if State(tk.st&stateMask) == HalfOpen {
		c.probeDone(t, tk, at, o, counted)
		return
	}
	if !counted || c.st.Load() != tk.st {
		return
	}
	if !c.record(t, cfg, tk.st, at, o) {
		return
	}
	bad := o.failed || o.slow || (cfg.p99 > 0 && o.latency >= cfg.p99Eval)
	pending := c.pending.Load()
	// A success can trip the circuit only by completing a window that was too
	// small to judge: skip the sum otherwise. (Old successes that age out can
	// raise a rate too; the next bad outcome judges that.)
	if !bad && pending&pendingAll == 0 && (pending&pendingConc == 0 || !o.overlapped) {
		return
	}
	sum := c.collect(tk.st, at)
	var now uint32
	if sum.requests < uint64(cfg.minRequests) {
		now |= pendingAll
	}
	if cfg.concFailRate > 0 && sum.concFailures > 0 && sum.concurrent < uint64(cfg.minRequests) {
		now |= pendingConc
	}
	if !bad {
		now &= pending // a success only clears flags
	}
	if now != pending {
		c.pending.Store(now)
	}
	if now&pendingAll == 0 && sum.tripped(cfg) {
		c.transition(t, tk.st, Open, at, sum.counts())
	}
}

// probeDone ends a probe of the half-open generation tk.st.
func (c *circuit) probeDone(t *Transport, tk ticket, at int64, o obs, counted bool) {
	cfg := t.cfg.Load()
	c.mu.Lock()
	if c.st.Load() != tk.st {
		c.mu.Unlock()
		return
	}
	c.probing--
	if !counted {
		c.mu.Unlock()
		return
	}
	c.probes.add(o)
	to := c.judge(cfg)
	if to == HalfOpen {
		c.mu.Unlock()
		return
	}
	c.set(cfg, tk.st, to, at, c.probes.counts())
	c.mu.Unlock()
	c.flush()
}

// judge returns the state a half-open circuit moves to after the probes
// counted so far: Open as soon as the failures exceed what the recovery
// failure rates allow among cfg.probes probes; once cfg.probes are counted,
// Closed if their latency meets the recovery thresholds too, else Open;
// HalfOpen while undecided. c.mu is held.
func (c *circuit) judge(cfg *config) State {
	p := &c.probes
	n := float64(cfg.probes)
	switch {
	case float64(p.failures)/n > cfg.recFailRate || float64(p.concFailures)/n > cfg.recConcFail:
		return Open
	case p.requests >= uint64(cfg.probes):
		if cfg.p99 > 0 && cfg.recP99 > 0 && p.p99() > cfg.recP99 ||
			cfg.slowCall > 0 && float64(p.slow)/float64(p.requests) >= cfg.slowRate {
			return Open
		}
		return Closed
	}
	return HalfOpen
}

// transition moves the circuit from the generation st to state to, unless st
// has ended already, and runs the hook.
func (c *circuit) transition(t *Transport, st uint64, to State, at int64, cause Counts) {
	c.mu.Lock()
	if c.st.Load() != st {
		c.mu.Unlock()
		return
	}
	c.set(t.cfg.Load(), st, to, at, cause)
	c.mu.Unlock()
	c.flush()
}

// halfOpen turns the open generation st half-open if its time is up at time at.
func (c *circuit) halfOpen(t *Transport, st uint64, at int64) {
	c.mu.Lock()
	if c.st.Load() != st || at < c.openUntil.Load() {
		c.mu.Unlock()
		return
	}
	c.set(t.cfg.Load(), st, HalfOpen, at, c.cause)
	c.mu.Unlock()
	c.flush()
}

// set starts the next generation after st in state to. c.mu is held.
func (c *circuit) set(cfg *config, st uint64, to State, at int64, cause Counts) {
	from := State(st & stateMask)
	switch to {
	case Open:
		c.openUntil.Store(at + int64(cfg.openDuration))
	case HalfOpen:
		c.probing = 0
		c.probes = tally{}
	case Closed:
		c.width.Store(cfg.width)
		c.pending.Store(0)
	}
	c.cause = cause
	c.st.Store(((st>>stateBits)+1)<<stateBits | uint64(to))
	if cfg.onState != nil {
		c.events = append(c.events, event{from: from, to: to, hook: cfg.onState})
	}
}

// flush hands queued transitions to the hook, in order, outside the lock. Only
// one caller flushes at a time; events queued meanwhile, by a hook too, are
// handed over by that caller.
func (c *circuit) flush() {
	c.mu.Lock()
	if c.flushing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	for len(c.events) > 0 {
		ev := c.events[0]
		c.events = c.events[:copy(c.events, c.events[1:])]
		c.mu.Unlock()
		c.deliver(ev)
		c.mu.Lock()
	}
	c.flushing = false
	c.mu.Unlock()
}

// deliver runs the hook for ev; if it panics, the next flush takes over.
func (c *circuit) deliver(ev event) {
	ok := false
	defer func() {
		if !ok {
			c.mu.Lock()
			c.flushing = false
			c.mu.Unlock()
		}
	}()
	ev.hook(c.key, ev.from, ev.to)
	ok = true
}

// window returns the live counts: the window when closed, the probes when
// half-open, nothing when open.
func (c *circuit) window(t *Transport, at int64) Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st.Load()
	switch State(st & stateMask) {
	case Closed:
		sum := c.collect(st, at)
		return sum.counts()
	case HalfOpen:
		return c.probes.counts()
	}
	return Counts{}
}
