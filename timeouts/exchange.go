package timeouts

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Phases of an exchange, as the timer sees them.
const (
	phaseHeader   = iota // waiting for the response header
	phaseBody            // the response body is being read
	phaseUpgraded        // 101 Switching Protocols: no bound applies any more
	phaseDone            // finished: EOF, error, Close or a failed RoundTrip
)

// exchange is the state of one round trip through a Transport. It is also the
// context given to the next RoundTripper, and holds the request copy that
// carries it (one allocation for the three; see ctxState), and it is the
// response body wrapper (respBody). What only some round trips need (the
// trace, the upload, the adaptive bound) is allocated apart, when needed.
//
// # How bounds are checked
//
// The exchange's timer ticks while a bound is running, every sixteenth of
// that bound, and each tick reads the clock once and checks every running
// bound; the request's own path reads the clock once, at the start (to tell
// a synctest bubble, see slots), and touches no timer in the common case
// (see timerSlot). The response header bound and the
// static body idle bound are sampled: a tick that first sees the header clock
// running, or a Read in progress (readSeq odd), notes the time; a later tick
// that sees the same one still running and a full bound gone since fires. A
// bound therefore fires no earlier than its limit and at most two ticks (an
// eighth of the bound) after it. The write idle, adaptive body idle and
// attempt bounds keep exact deadlines, checked at each tick.
//
// Times are clock readings; 0 means "not set".
type exchange struct {
	ctxState
	out  http.Request // the copy of the caller's request that next gets, with s as its context
	t    *Transport
	rc   io.ReadCloser // the response body from next, set before the caller gets it
	slot *timerSlot[exchange, *exchange]

	readSeq atomic.Uint64         // incremented as each Read starts and ends: odd while in Read
	fired   atomic.Pointer[Error] // the timeout this exchange declared

	// Guarded by ctxState.mu.
	trace     *traceState // made when next first asks for the trace
	up        *upload     // the request body's state, when there is a body
	adapt     *bodyAdapt  // made on the first Read with an adaptive bound
	attemptAt int64
	seenAt    int64  // when a tick first saw seenID running
	headerRun uint32 // header clock epoch while it runs, 0 while it does not
	seenID    uint32 // the header epoch (header phase) or readSeq (body phase) seen at seenAt
	epochs    uint32 // header clock starts so far

	finished atomic.Bool // finish has run

	// Guarded by ctxState.mu.
	phase    uint8
	released bool // the slot went back to the pool
	written  bool // the request has been written: the header clock may run
	reported bool // the hook was called
}

// Deadline returns the earlier of the parent's deadline and the attempt's.
func (s *exchange) Deadline() (time.Time, bool) {
	d, ok := s.parent().Deadline()
	if s.attemptAt != 0 {
		a := s.t.clock.at(s.attemptAt)
		if !ok || a.Before(d) {
			return a, true
		}
	}
	return d, ok
}

// Value answers net/http/httptrace's key with a trace that tells the
// exchange when the request was written (when a header bound runs), and
// every other key from the parent.
func (s *exchange) Value(key any) any {
	if traceKey != nil && key == traceKey && s.t.cfg.header > 0 {
		return s.clientTrace()
	}
	return s.parent().Value(key)
}

func (s *exchange) String() string { return "timeouts.exchange" }

// ensure makes sure the timer ticks at least every d. It takes no lock when
// the slot's timer is already set that often.
func (s *exchange) ensure(d time.Duration) {
	if s.slot.soonEnough(d) {
		return
	}
	s.mu.Lock()
	s.arm(d)
	s.mu.Unlock()
}

// arm sets the slot's timer to tick within d. Called with s.mu held.
func (s *exchange) arm(d time.Duration) {
	if !s.released {
		s.slot.arm(d)
	}
}

// startHeader starts (or restarts) the header clock. Called with s.mu held.
func (s *exchange) startHeader() {
	if s.t.cfg.header == 0 || s.phase != phaseHeader {
		return
	}
	s.epochs++
	s.headerRun = s.epochs
	s.arm(s.t.ticks.header)
}

// markWritten starts the header clock once the request is written. Called
// with s.mu held.
func (s *exchange) markWritten() {
	if s.written {
		return
	}
	s.written = true
	s.startHeader()
}

// due collects, during one tick, the first bound found run out and the
// shortest tick still needed.
type due struct {
	phase errclass.Phase
	limit time.Duration
	next  time.Duration // 0 for none
}

func (d *due) need(tick time.Duration) {
	if d.next == 0 || tick < d.next {
		d.next = tick
	}
}

func (d *due) fire(ph errclass.Phase, lim time.Duration) {
	if d.phase == "" {
		d.phase, d.limit = ph, lim
	}
}

// onTimer runs on the timer's goroutine: one tick. It declares the timeout
// whose bound ran out, or sets the next tick while a bound is running.
func (s *exchange) onTimer() {
	s.mu.Lock()
	if s.phase >= phaseUpgraded || s.end != notDone {
		s.mu.Unlock()
		return
	}
	now := s.t.clock.now()
	var d due
	s.checkAttempt(&d, now)
	s.checkHeader(&d, now)
	s.checkWrite(&d, now)
	s.checkBody(&d, now)
	if d.phase == "" || s.parentExpired() { // the caller's own end wins; it propagates by itself
		if d.phase == "" && d.next > 0 {
			s.arm(d.next)
		}
		s.mu.Unlock()
		return
	}
	s.fired.Store(&Error{Phase: d.phase, Limit: d.limit})
	funcs := s.cancelLocked(deadline)
	s.mu.Unlock()
	runAll(funcs)
}

func (s *exchange) checkAttempt(d *due, now int64) {
	if s.attemptAt != 0 {
		d.need(s.t.ticks.attempt)
		if now >= s.attemptAt {
			d.fire(errclass.PhaseAttempt, s.t.cfg.attempt)
		}
	}
}

func (s *exchange) checkHeader(d *due, now int64) {
	if s.phase != phaseHeader || s.headerRun == 0 {
		return
	}
	d.need(s.t.ticks.header)
	if s.seenID != s.headerRun {
		s.seenID, s.seenAt = s.headerRun, now
	} else if now-s.seenAt >= int64(s.t.cfg.header) {
		d.fire(errclass.PhaseResponseHeader, s.t.cfg.header)
	}
}

func (s *exchange) checkWrite(d *due, now int64) {
	if u := s.up; u != nil && u.at != 0 {
		d.need(tick(u.lim))
		if now >= u.at {
			d.fire(errclass.PhaseWriteIdle, u.lim)
		}
	}
}

func (s *exchange) checkBody(d *due, now int64) {
	if s.phase != phaseBody {
		return
	}
	if a := s.adapt; a != nil {
		if a.at != 0 {
			d.need(tick(a.limit))
			if now >= a.at {
				d.fire(errclass.PhaseBodyIdle, a.limit)
			}
		}
		return
	}
	if q := s.readSeq.Load(); q&1 == 1 && s.t.cfg.bodyIdle > 0 {
		d.need(s.t.ticks.body)
		if uint32(q) != s.seenID {
			s.seenID, s.seenAt = uint32(q), now
		} else if now-s.seenAt >= int64(s.t.cfg.bodyIdle) {
			d.fire(errclass.PhaseBodyIdle, s.t.cfg.bodyIdle)
		}
	}
}

// parentExpired reports whether the caller's context is done or past its
// deadline (its own timer may not have run yet).
func (s *exchange) parentExpired() bool {
	if s.parent().Err() != nil {
		return true
	}
	d, ok := s.parent().Deadline()
	return ok && !time.Now().Before(d)
}

// attemptOver reports whether the attempt bound has run out and the caller's
// context has not ended (attemptAt never changes once s is published).
func (s *exchange) attemptOver() bool {
	return s.attemptAt != 0 && s.t.clock.now() >= s.attemptAt && !s.parentExpired()
}

// finish ends the exchange: releases the timer and the claimed connection,
// cancels the context and stops watching the parent. It runs once; later
// calls do nothing.
func (s *exchange) finish() {
	if !s.finished.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	e := s.endLocked()
	s.mu.Unlock()
	e.run(s)
}

// teardown is what remains to do, outside the lock, to end an exchange.
type teardown struct {
	release bool  // put the timer slot back
	c       *conn // release the claimed connection
	f       final
}

// endLocked ends the exchange's phase and its context and returns what
// remains to do. Called with s.mu held, by the caller that won s.finished.
func (s *exchange) endLocked() teardown {
	s.phase = phaseDone
	e := teardown{release: !s.released, f: s.finalLocked(canceled)}
	s.released = true
	if s.trace != nil {
		e.c = s.trace.conn
	}
	return e
}

func (e teardown) run(s *exchange) {
	if e.release {
		s.t.slots.put(s.slot)
	}
	if e.c != nil {
		e.c.release(s)
	}
	e.f.run()
}

// upgrade stops every bound: a 101 stream belongs to its protocol.
func (s *exchange) upgrade() {
	s.mu.Lock()
	s.phase = phaseUpgraded
	release := !s.released
	s.released = true
	s.mu.Unlock()
	if release {
		s.t.slots.put(s.slot)
	}
}

// fail ends the exchange after next returned err and returns the error for
// the caller: this layer's timeout when its timer fired; err itself when the
// caller's context ended; the caller's request body failure when its Read
// failed; or err translated into *Error when a lower layer timed out.
// Every error goes through errclass.Wrap.
func (s *exchange) fail(err error) error {
	fired := s.fired.Load()
	s.finish()
	var out *Error
	switch {
	case fired != nil: // declared while the caller's context was alive
		out = fired
	case s.parent().Err() != nil:
		return errclass.Wrap(err)
	case s.bodyErr() != nil:
		return s.bodyErr()
	case s.attemptOver():
		// next enforced the attempt deadline our context advertises before
		// our timer's tick: still the attempt bound.
		out = &Error{Phase: errclass.PhaseAttempt, Limit: s.t.cfg.attempt, cause: err}
	default:
		if out = translate(err, s.t.lim); out == nil {
			return errclass.Wrap(err)
		}
	}
	s.report(out)
	return out
}

// bodyErr returns the failure of the caller's request body, or nil. (s.up
// is set before next is called and never changes.)
func (s *exchange) bodyErr() *bodyError {
	if s.up == nil {
		return nil
	}
	return s.up.err.Load()
}

// report calls the OnTimeout hooks, once per exchange.
func (s *exchange) report(e *Error) {
	hooks := s.t.cfg.onTimeout
	if len(hooks) == 0 {
		return
	}
	s.mu.Lock()
	first := !s.reported
	s.reported = true
	s.mu.Unlock()
	if first {
		runHooks(hooks, s.req, e)
	}
}
