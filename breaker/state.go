package breaker

import (
	"math"
	"net/http"
	"strings"
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

// Counts is a snapshot of the outcomes a breaker counted: the windows of a
// closed breaker, or the probes of a half-open one (every field then counts
// the same probes). Neutral outcomes (see [Outcome]) are not counted;
// rejected calls are not outcomes.
type Counts struct {
	Requests           int           // outcomes in the failure window
	Failures           int           // of which failures
	LatencyRequests    int           // outcomes in the latency window
	SlowCalls          int           // of which slower than WithSlowCall's d
	OverP99            int           // of which slower than WithP99's d (for probes: the recovery P99)
	P99                time.Duration // 99th percentile of time to response headers; never above the slowest outcome
	Concurrent         int           // outcomes in the concurrency window that overlapped another call to the key
	ConcurrentFailures int           // of which failures
}

const (
	stateBits = 2
	stateMask = 1<<stateBits - 1

	openForever = math.MaxInt64 // openUntil of a circuit open until Reset
)

// circuit is the breaker of one key. Its state and generation live in st so
// that the closed path reads them with one atomic load; every change of st
// happens under mu. A new generation starts with every transition, and an
// outcome is counted only in the generation it started in.
//
// What a fleet's Store shares of it is small and additive: st (state and
// generation), openUntil, pausedUntil, and each window's bucket counts per
// epoch (store.go).
type circuit struct {
	// Read on every call, written rarely.
	t           *Transport // the Transport the circuit belongs to
	key         string
	scheme      string        // the URL scheme and host of the request that made it, as spelled:
	host        string        // a request spelled the same has its key without normalising
	st          atomic.Uint64 // generation<<stateBits | State
	openUntil   atomic.Int64  // when an open circuit turns half-open, on the Transport's timeline; math.MaxInt64: never
	pausedUntil atomic.Int64  // a server's Retry-After pauses the key until then
	pending     atomic.Uint32 // per dimension: a bad outcome came while too few outcomes were there to judge
	evicted     atomic.Bool   // dropped from the registry; admitters look the key up again
	lastUse     atomic.Int64  // when a window last moved to a new bucket, for eviction order
	_           [64]byte      // keep the counters below off the cache lines of the fields above

	// Written on every call.
	flight atomic.Uint64 // calls started (high 32 bits) and calls in flight (low 32 bits)
	_      [56]byte
	win    [numDims]window
	hist   [numBuckets][numBins]atomic.Uint32 // the latency window's histograms, per bucket

	fleet atomic.Pointer[fleetView] // what the other processes of a fleet counted (fleet.go)
	sync  *keySync                  // a Store's bookkeeping, used only by its sync goroutine

	mu       sync.Mutex // guards changes of st and windows' clearing, and the fields below
	forced   bool       // opened by ForceOpen: open until Reset
	probing  []probe    // probes in flight
	probes   tally      // counted probe outcomes of the current half-open generation
	cause    Counts     // the counts that caused the last transition
	events   []event    // transitions not yet handed to the hooks, oldest first
	flushing bool       // a caller is handing events to the hooks
}

// probe is a half-open call in flight.
type probe struct {
	id       uint64 // the call's start number (ticket.seq>>32)
	start    int64
	deadline int64
}

type event struct {
	from, to State
	hooks    []func(key string, from, to State)
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

// rejection says why a call was rejected, for its OpenError.
type rejection struct {
	retryIn time.Duration
	pause   bool
	busy    bool
}

func newCircuit(t *Transport, key string, cfg *config, req *http.Request) *circuit {
	c := &circuit{t: t, key: key}
	if req != nil && req.URL != nil && cfg.defaultKey {
		c.scheme, c.host = strings.Clone(req.URL.Scheme), strings.Clone(req.URL.Host)
	}
	for d := range c.win {
		c.win[d].width.Store(cfg.widths[d])
		for i := range c.win[d].epochs {
			c.win[d].epochs[i].Store(noEpoch) // so that the first record rotates and marks it used
		}
	}
	return c
}

// spelledAs reports whether req's URL spells the circuit's host as the
// request that made it did (so its default key is c.key).
func (c *circuit) spelledAs(req *http.Request) bool {
	u := req.URL
	return u != nil && c.host != "" && u.Host == c.host && u.Scheme == c.scheme
}

// state returns the state at time at, turning an open circuit whose time is up
// half-open and failing probes past their deadline.
func (c *circuit) state(t *Transport, at int64) State {
	st := c.st.Load()
	if State(st&stateMask) == Open && at >= c.openUntil.Load() {
		c.halfOpen(t, st, at)
		st = c.st.Load()
	}
	if State(st&stateMask) == HalfOpen {
		c.mu.Lock()
		if c.st.Load() == st && c.expire(t.cfg.Load(), st, at) {
			c.mu.Unlock()
			c.flush()
		} else {
			c.mu.Unlock()
		}
		st = c.st.Load()
	}
	return State(st & stateMask)
}

// admit decides whether a call starting at time at may go through.
func (c *circuit) admit(t *Transport, cfg *config, at int64) (ticket, rejection, verdict) {
	for {
		st := c.st.Load()
		s := State(st & stateMask)
		if s != Open {
			if p := c.pausedUntil.Load(); at < p {
				return ticket{}, rejection{retryIn: time.Duration(p - at), pause: true}, rejected
			}
		}
		switch s {
		case Closed:
			seq := c.flight.Add(1<<32 | 1)
			if c.evicted.Load() {
				c.flight.Add(^uint64(0))
				return ticket{}, rejection{}, gone
			}
			return ticket{st: st, seq: seq}, rejection{}, admitted
		case Open:
			if until := c.openUntil.Load(); at < until {
				var r rejection
				if until != openForever {
					r.retryIn = time.Duration(until - at)
				}
				return ticket{}, r, rejected
			}
			c.halfOpen(t, st, at)
		default:
			if tk, ok, retry := c.admitProbe(t, cfg, st, at); retry {
				continue
			} else if ok {
				return tk, rejection{}, admitted
			}
			return ticket{}, rejection{busy: true}, rejected
		}
	}
}

// done ends an admitted call with outcome o, judged with cfg; at is when its
// headers arrived (or it failed), the time the outcome is placed in the
// windows, which may be a while ago when the call ended with its body.
// counted is false for a call with no outcome (neutral, or next panicked),
// which only frees its place.
func (c *circuit) done(t *Transport, cfg *config, tk ticket, at int64, o obs, counted bool) {
	after := c.flight.Add(^uint64(0))
	o.overlapped = uint32(tk.seq) > 1 || after>>32 != tk.seq>>32
	if State(tk.st&stateMask) == HalfOpen {
		c.probeDone(t, tk, o, counted)
		return
	}
	if !counted || c.st.Load() != tk.st {
		return
	}
	bad := c.record(t, cfg, tk.st, at, o)
	if bad == notRecorded {
		return
	}
	pending := c.pending.Load()
	if !o.overlapped {
		// Only an overlapping outcome can complete the concurrency window.
		pending &^= 1 << dimConcurrency
	}
	if bad|pending == 0 {
		return
	}
	now := at
	if o.late {
		now = t.now()
	}
	c.judgeWindows(t, cfg, tk.st, now, bad, pending)
}

// judgeWindows judges, at time now, the dimensions of the closed generation
// st that an outcome made worth judging: those where it was bad, and those
// that wait for enough outcomes to judge an earlier bad one. (Old successes
// that age out can raise a rate too; the next bad outcome judges that.)
func (c *circuit) judgeWindows(t *Transport, cfg *config, st uint64, now int64, bad, pending uint32) {
	var s tally
	var wait, ready uint32
	trip := false
	for d := range dimension(numDims) {
		bit := uint32(1) << d
		if (bad|pending)&bit == 0 {
			continue
		}
		c.collect(&s, d, st, now)
		enough, tripped := s.verdict(cfg, d)
		switch {
		case enough:
			ready |= bit
		case bad&bit != 0:
			wait |= bit
		}
		trip = trip || tripped
	}
	if ready&pending != 0 {
		c.pending.And(^ready)
	}
	if wait&^pending != 0 {
		c.pending.Or(wait)
	}
	if trip {
		c.transition(t, st, Open, now)
	}
}

// verdict judges dimension d of a closed window: whether it holds enough
// outcomes to be judged in full, and whether it trips.
func (s *tally) verdict(cfg *config, d dimension) (enough, tripped bool) {
	minN := uint64(cfg.minRequests)
	switch d {
	case dimFailure:
		enough = s.requests >= minN
		return enough, enough && cfg.failRate > 0 && cfg.failRate.exceeded(s.failures, s.requests)
	case dimLatency:
		n := s.latRequests
		p99N := max(100, minN)
		tripped = cfg.p99 > 0 && n >= p99N && s.over > n/100 ||
			cfg.slowCall > 0 && n >= minN && cfg.slowRate.exceeded(s.slow, n)
		enough = n >= minN && (cfg.p99 == 0 || n >= p99N)
		return enough, tripped
	default:
		enough = s.concurrent >= minN
		return enough, enough && cfg.concRate > 0 && cfg.concRate.exceeded(s.concFailures, s.concurrent)
	}
}

// transition moves the circuit from the generation st to state to, unless st
// has ended already, and runs the hooks. The cause is the live counts.
func (c *circuit) transition(t *Transport, st uint64, to State, at int64) {
	c.mu.Lock()
	if c.st.Load() != st {
		c.mu.Unlock()
		return
	}
	cfg := t.cfg.Load()
	c.set(cfg, st, to, at, c.live(cfg, st, at))
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
	c.move(cfg, st, ((st>>stateBits)+1)<<stateBits|uint64(to), at, cause)
}

// move replaces st with next, a later state word: the next generation, or
// one a fleet's store holds. c.mu is held.
func (c *circuit) move(cfg *config, st, next uint64, at int64, cause Counts) {
	from, to := State(st&stateMask), State(next&stateMask)
	switch to {
	case Open:
		until := satAdd(at, int64(cfg.openDuration))
		if c.forced {
			until = openForever
		}
		c.openUntil.Store(until)
	case HalfOpen:
		c.probing = c.probing[:0]
		c.probes = tally{}
	case Closed:
		for d := range c.win {
			c.win[d].width.Store(cfg.widths[d])
		}
		c.pending.Store(0)
	}
	c.cause = cause
	c.st.Store(next)
	if from != to && len(cfg.onState) > 0 {
		c.events = append(c.events, event{from: from, to: to, hooks: cfg.onState})
	}
}

// flush hands queued transitions to the hooks, in order, outside the lock.
// Only one caller flushes at a time; events queued meanwhile, by a hook too,
// are handed over by that caller.
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

// deliver runs the hooks for ev; if one panics, the next flush takes over.
func (c *circuit) deliver(ev event) {
	ok := false
	defer func() {
		if !ok {
			c.mu.Lock()
			c.flushing = false
			c.mu.Unlock()
		}
	}()
	for _, h := range ev.hooks {
		h(c.key, ev.from, ev.to)
	}
	ok = true
}

// live returns the live counts of generation st: the windows when closed, the
// probes when half-open, nothing when open. c.mu is held.
func (c *circuit) live(cfg *config, st uint64, at int64) Counts {
	switch State(st & stateMask) {
	case Closed:
		s := c.snapshot(st, at)
		return s.counts(cfg.p99)
	case HalfOpen:
		return c.allProbes(st).counts(cfg.probeBound())
	}
	return Counts{}
}

// window returns the live counts at time at.
func (c *circuit) window(t *Transport, at int64) Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live(t.cfg.Load(), c.st.Load(), at)
}
