package timeouts

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
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
// context given to the next RoundTripper (one allocation for both), and it
// holds the response body wrapper.
//
// # How bounds are checked
//
// The exchange's timer ticks while a bound is running, every sixteenth of
// that bound, and each tick reads the clock once and checks every running
// bound; nothing on the request's own path reads the clock or touches a timer
// (see timerSlot). The response header bound and the static body idle bound
// are sampled: a tick that first sees the header clock running, or a Read in
// progress (readSeq odd), notes the time; a later tick that sees the same
// one still running and a full bound gone since fires. A bound therefore
// fires no earlier than its limit and at most two ticks (an eighth of the
// bound) after it. The write idle, adaptive body idle and attempt bounds
// keep exact deadlines, checked at each tick.
//
// Times are mono() nanoseconds; 0 means "not set".
type exchange struct {
	t      *Transport
	parent context.Context
	req    *http.Request // the caller's, for the hook
	rc     io.ReadCloser // the response body from next, set before the caller gets it
	slot   *timerSlot    // set by takeSlot before s is published to the slot

	readSeq atomic.Uint64         // incremented as each Read starts and ends: odd while in Read
	fired   atomic.Pointer[Error] // the timeout this exchange declared

	mu sync.Mutex // guards every field below
	// context state
	done       chan struct{} // made on the first Done call
	err        error         // non-nil once the context is done
	funcs      []afterFunc   // registered by the context package (AfterFunc)
	stopParent func() bool   // stops the watch of parent.Done
	trace      *traceState
	// bounds
	attemptAt int64
	seenAt    int64      // when a tick first saw seenID running
	up        *upload    // the request body's state, when there is a body
	adapt     *bodyAdapt // made on the first Read with WithAdaptiveBodyIdle
	nextFunc  uint32
	headerRun uint32 // header clock epoch while it runs, 0 while it does not
	seenID    uint32 // the header epoch (header phase) or readSeq (body phase) seen at seenAt
	epochs    uint32 // header clock starts so far
	phase     uint8
	released  bool        // the slot went back to the pool
	written   bool        // the request has been written: the header clock may run
	reported  bool        // the hook was called
	finished  atomic.Bool // finish has run (read without mu)
}

type afterFunc struct {
	id uint32
	f  func()
}

// ensure makes sure the timer ticks at least every tick. It takes no lock
// when the slot's timer is already set that often.
func (s *exchange) ensure(tick time.Duration) {
	if a := s.slot.armed.Load(); a != 0 && a <= int64(tick) {
		return
	}
	s.mu.Lock()
	s.arm(tick)
	s.mu.Unlock()
}

// arm sets the slot's timer to tick, unless it is set to fire sooner.
// Called with s.mu held.
func (s *exchange) arm(tick time.Duration) {
	if s.released {
		return
	}
	if a := s.slot.armed.Load(); a != 0 && a <= int64(tick) {
		return
	}
	s.slot.armed.Store(int64(tick))
	s.slot.t.Reset(tick)
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

// onTimer runs on the timer's goroutine: one tick. It declares the timeout
// whose bound ran out, or sets the next tick while a bound is running.
func (s *exchange) onTimer() {
	s.mu.Lock()
	if s.phase >= phaseUpgraded || s.err != nil {
		s.mu.Unlock()
		return
	}
	now := mono()
	c, tk := &s.t.cfg, &s.t.ticks
	var next time.Duration // the tick still needed, 0 for none
	need := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	var ph errclass.Phase
	var lim time.Duration
	if s.attemptAt != 0 {
		need(tk.attempt)
		if now >= s.attemptAt {
			ph, lim = errclass.PhaseAttempt, c.attempt
		}
	}
	if s.phase == phaseHeader && s.headerRun != 0 {
		need(tk.header)
		if s.seenID != s.headerRun {
			s.seenID, s.seenAt = s.headerRun, now
		} else if ph == "" && now-s.seenAt >= int64(c.header) {
			ph, lim = errclass.PhaseResponseHeader, c.header
		}
	}
	if u := s.up; u != nil && u.at != 0 {
		need(tk.write)
		if ph == "" && now >= u.at {
			ph, lim = errclass.PhaseWriteIdle, u.lim
		}
	}
	if s.phase == phaseBody {
		if a := s.adapt; a != nil && a.at != 0 {
			need(tk.body)
			if ph == "" && now >= a.at {
				ph, lim = errclass.PhaseBodyIdle, a.limit
			}
		} else if q := s.readSeq.Load(); q&1 == 1 && c.bodyIdle > 0 && !c.adaptiveBody.on() {
			need(tk.body)
			if uint32(q) != s.seenID {
				s.seenID, s.seenAt = uint32(q), now
			} else if ph == "" && now-s.seenAt >= int64(c.bodyIdle) {
				ph, lim = errclass.PhaseBodyIdle, c.bodyIdle
			}
		}
	}
	if ph == "" {
		if next > 0 {
			s.arm(next)
		}
		s.mu.Unlock()
		return
	}
	if s.parentExpired() { // the caller's own end wins; it propagates by itself
		s.mu.Unlock()
		return
	}
	s.fired.Store(&Error{Phase: ph, Limit: lim})
	funcs := s.cancelLocked(context.DeadlineExceeded)
	s.mu.Unlock()
	runAll(funcs)
}

// parentExpired reports whether the caller's context is done or past its
// deadline (its own timer may not have run yet).
func (s *exchange) parentExpired() bool {
	if s.parent.Err() != nil {
		return true
	}
	d, ok := s.parent.Deadline()
	return ok && !time.Now().Before(d)
}

// finish ends the exchange: releases the timer, cancels the context and stops
// watching the parent. It runs once; later calls do nothing.
func (s *exchange) finish() {
	if !s.finished.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	s.phase = phaseDone
	release := !s.released
	s.released = true
	funcs := s.cancelLocked(context.Canceled)
	stop := s.stopParent
	s.stopParent = nil
	s.mu.Unlock()
	if release {
		s.t.putSlot(s.slot)
	}
	runAll(funcs)
	if stop != nil {
		stop()
	}
}

// upgrade stops every bound: a 101 stream belongs to its protocol.
func (s *exchange) upgrade() {
	s.mu.Lock()
	s.phase = phaseUpgraded
	release := !s.released
	s.released = true
	s.mu.Unlock()
	if release {
		s.t.putSlot(s.slot)
	}
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

// ---- timers ----

// ticks are the tick intervals of a Transport's bounds: a sixteenth of each,
// at least a millisecond.
type ticks struct {
	header, body, write, attempt time.Duration
}

func newTicks(c *config) ticks {
	t := func(bounds ...time.Duration) time.Duration {
		var m time.Duration
		for _, b := range bounds {
			if b > 0 && (m == 0 || b < m) {
				m = b
			}
		}
		return max(m/16, time.Millisecond)
	}
	var bodyFloor, writeFloor time.Duration
	if c.adaptiveBody.on() {
		bodyFloor = c.adaptiveBody.floor
	}
	if c.adaptiveWrite.on() {
		writeFloor = c.adaptiveWrite.floor
	}
	return ticks{
		header:  t(c.header),
		body:    t(c.bodyIdle, bodyFloor),
		write:   t(c.writeIdle, writeFloor),
		attempt: t(c.attempt),
	}
}

// timerSlot is a reusable timer. Its callback is bound once, so a round trip
// costs no allocation for its timer, and it is never stopped: a slot goes back
// to the pool with its timer still set, and the next exchange that takes it
// resets it only when it needs to tick more often. When the timer fires it
// makes the slot's exchange, if any, check its bounds and set the next tick;
// a slot with no exchange does nothing. So a steady stream of short round
// trips costs no timer operation at all.
type timerSlot struct {
	t     *time.Timer
	armed atomic.Int64 // the interval t was last set to (so it fires within it), or 0 when not set
	s     atomic.Pointer[exchange]
}

// fire clears armed before it loads s, and an exchange publishes what it
// needs watched before it loads armed: either the exchange sees armed == 0
// and sets the timer, or fire sees the exchange's state.
func (sl *timerSlot) fire() {
	sl.armed.Store(0)
	if s := sl.s.Load(); s != nil {
		s.onTimer()
	}
}

// takeSlot takes a slot from the pool for s and publishes s to it. The
// slot's timer may still be set from an earlier exchange and fire at any
// moment, so s.slot is written before the atomic store that lets the timer's
// goroutine see s.
func (t *Transport) takeSlot(s *exchange) {
	sl, _ := t.slots.Get().(*timerSlot)
	if sl == nil {
		sl = &timerSlot{}
		sl.t = time.AfterFunc(time.Hour, sl.fire)
		sl.t.Stop()
	}
	s.slot = sl
	sl.s.Store(s)
}

// putSlot returns sl to the pool, its timer still set (see timerSlot).
func (t *Transport) putSlot(sl *timerSlot) {
	sl.s.Store(nil)
	t.slots.Put(sl)
}

// ---- context.Context ----

// closedChan is the Done channel of an exchange that was done before anyone
// asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Deadline returns the earlier of the parent's deadline and the attempt's.
func (s *exchange) Deadline() (time.Time, bool) {
	d, ok := s.parent.Deadline()
	if s.attemptAt != 0 {
		a := epoch.Add(time.Duration(s.attemptAt))
		if !ok || a.Before(d) {
			return a, true
		}
	}
	return d, ok
}

// Done returns a channel closed when the exchange's timer fires, the parent
// is done, or the exchange finishes.
func (s *exchange) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.err != nil {
			s.done = closedChan
		} else {
			s.done = make(chan struct{})
			if s.parent.Done() != nil {
				s.stopParent = context.AfterFunc(s.parent, s.onParentDone)
			}
		}
	}
	return s.done
}

func (s *exchange) onParentDone() {
	s.mu.Lock()
	funcs := s.cancelLocked(s.parent.Err())
	s.mu.Unlock()
	runAll(funcs)
}

// Err returns nil until the context is done; then context.DeadlineExceeded
// when this layer's timer fired, the parent's error when the parent ended,
// and context.Canceled once the exchange finished.
func (s *exchange) Err() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err == nil {
		err = s.parent.Err()
	}
	return err
}

// Value answers net/http/httptrace's key with a trace that tells the
// exchange when the request was written, and every other key from the
// parent.
func (s *exchange) Value(key any) any {
	if traceKey != nil && key == traceKey {
		return s.clientTrace()
	}
	return s.parent.Value(key)
}

func (s *exchange) String() string { return "timeouts.exchange" }

// AfterFunc lets the context package propagate this context's end to the
// contexts derived from it without a goroutine each. f runs once, on the
// goroutine that ends the exchange, outside s.mu; when the exchange is
// already done, f runs on a new goroutine, as context.AfterFunc does.
func (s *exchange) AfterFunc(f func()) func() bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	s.nextFunc++
	id := s.nextFunc
	s.funcs = append(s.funcs, afterFunc{id, f})
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, a := range s.funcs {
			if a.id == id {
				s.funcs = append(s.funcs[:i], s.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancelLocked ends the context with err and returns the functions to run
// outside the lock. Called with s.mu held.
func (s *exchange) cancelLocked(err error) []afterFunc {
	if s.err != nil {
		return nil
	}
	s.err = err
	if s.done == nil {
		s.done = closedChan
	} else {
		close(s.done)
	}
	funcs := s.funcs
	s.funcs = nil
	return funcs
}

func runAll(funcs []afterFunc) {
	for _, a := range funcs {
		a.f()
	}
}

// ---- httptrace ----

// traceKey is the key net/http/httptrace stores its *ClientTrace under. It is
// unexported there; probe learns it by asking ContextClientTrace. When the
// probe finds nothing (a change in the standard library), the header clock
// of a request without a body starts at RoundTrip, as without a trace.
var traceKey = probeTraceKey()

type probeCtx struct {
	context.Context
	key any
}

func (p *probeCtx) Value(key any) any {
	p.key = key
	return nil
}

func probeTraceKey() any {
	p := &probeCtx{Context: context.Background()}
	httptrace.ContextClientTrace(p)
	return p.key
}

// traceState is made on the first request for the trace, so a next that
// never asks pays nothing.
type traceState struct {
	ct       httptrace.ClientTrace
	getConn  func(string)
	wroteReq func(httptrace.WroteRequestInfo)
}

func (s *exchange) clientTrace() *httptrace.ClientTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trace == nil {
		ts := &traceState{}
		if prev := httptrace.ContextClientTrace(s.parent); prev != nil {
			ts.ct = *prev
			ts.getConn, ts.wroteReq = prev.GetConn, prev.WroteRequest
		}
		ts.ct.GetConn = s.onGetConn
		ts.ct.WroteRequest = s.onWroteRequest
		s.trace = ts
	}
	return &s.trace.ct
}

// onGetConn tells that next is a net/http transport that reports when the
// request is written: the header clock waits for that, so connection set-up
// (bounded by NewTransport's own bounds) does not count against it.
func (s *exchange) onGetConn(hostPort string) {
	s.mu.Lock()
	if s.phase == phaseHeader {
		s.written = false
		s.headerRun = 0 // until WroteRequest
	}
	prev := s.trace.getConn
	s.mu.Unlock()
	if prev != nil {
		prev(hostPort)
	}
}

func (s *exchange) onWroteRequest(info httptrace.WroteRequestInfo) {
	s.mu.Lock()
	s.markWritten()
	prev := s.trace.wroteReq
	s.mu.Unlock()
	if prev != nil {
		prev(info)
	}
}

// ---- bodies ----

// upload is the state of a request body: the wrapper the transport reads
// and the write idle clock, which runs from the return of one of the
// transport's Reads to its next call. Guarded by the exchange's mutex, except
// s and rc, which never change.
type upload struct {
	s      *exchange
	rc     io.ReadCloser
	at     int64 // deadline of the write idle clock, or 0
	last   int64 // when the last Read returned
	lim    time.Duration
	gaps   ewma
	closed bool // Close was called: the clock never runs again
}

func (u *upload) Read(p []byte) (int, error) {
	s := u.s
	s.writeEnter()
	n, err := u.rc.Read(p)
	s.writeExit(err)
	return n, err
}

// Close closes the caller's body; the request counts as written.
func (u *upload) Close() error {
	s := u.s
	s.mu.Lock()
	u.at = 0
	// HTTP/2 closes the body from another goroutine when an error response
	// arrives, possibly while one of its Reads is still running: that Read's
	// return must not start the clock again.
	u.closed = true
	s.markWritten()
	s.mu.Unlock()
	return u.rc.Close()
}

func (s *exchange) writeEnter() {
	s.mu.Lock()
	if u := s.up; u.at != 0 {
		if s.t.cfg.adaptiveWrite.on() {
			u.gaps.add(time.Duration(mono() - u.last))
		}
		u.at = 0
	}
	s.mu.Unlock()
}

func (s *exchange) writeExit(err error) {
	s.mu.Lock()
	c, u := &s.t.cfg, s.up
	switch {
	case err != nil: // EOF or failure: the upload is over
		u.at = 0
		s.markWritten()
	case c.writeIdle > 0 && s.phase < phaseUpgraded && !u.closed:
		now := mono()
		u.lim = c.writeIdle
		if c.adaptiveWrite.on() {
			u.lim = u.gaps.bound(c.writeIdle, c.adaptiveWrite)
		}
		u.last = now
		u.at = now + int64(u.lim)
		s.arm(s.t.ticks.write)
	}
	s.mu.Unlock()
}

// bodyAdapt is the state of an adaptive body idle bound.
type bodyAdapt struct {
	gaps  p95
	start int64         // when the Read in progress began
	at    int64         // its deadline, or 0 when no Read is in progress
	limit time.Duration // its bound
}

// respBody is the exchange seen as the response body given to the caller
// (a conversion, so no allocation): it enforces the body idle bound and ends
// the exchange at EOF, on a read error or on Close.
type respBody exchange

func (b *respBody) Read(p []byte) (int, error) {
	s := (*exchange)(b)
	if err := s.readEnter(); err != nil {
		return 0, err
	}
	n, err := s.rc.Read(p)
	return n, s.readExit(err)
}

// Close closes the body and ends the exchange.
func (b *respBody) Close() error {
	s := (*exchange)(b)
	err := s.rc.Close()
	s.finish()
	return err
}

// upgradedBody is the body of a 101 response: it keeps io.Writer.
type upgradedBody struct {
	*respBody
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// readEnter starts the idle clock, or returns the timeout already declared.
// With a static bound it takes no lock and reads no clock: it marks the Read
// as in progress (readSeq odd), then makes sure the timer ticks (see
// exchange). With an adaptive bound it keeps an exact deadline.
func (s *exchange) readEnter() error {
	if e := s.fired.Load(); e != nil {
		s.finish() // the bound fired while the caller was not in Read
		s.report(e)
		return e
	}
	c := &s.t.cfg
	if c.bodyIdle == 0 {
		return nil
	}
	if c.adaptiveBody.on() {
		s.mu.Lock()
		if s.adapt == nil {
			s.adapt = new(bodyAdapt)
		}
		a := s.adapt
		now := mono()
		a.limit = a.gaps.bound(c.bodyIdle, c.adaptiveBody)
		a.start = now
		a.at = now + int64(a.limit)
		s.arm(s.t.ticks.body)
		s.mu.Unlock()
		return nil
	}
	s.readSeq.Add(1)
	s.ensure(s.t.ticks.body)
	return nil
}

// readExit stops the idle clock and returns the error for the caller: this
// layer's timeout when its timer fired during the Read.
func (s *exchange) readExit(err error) error {
	if c := &s.t.cfg; c.bodyIdle > 0 {
		if c.adaptiveBody.on() {
			s.mu.Lock()
			if a := s.adapt; a != nil && a.at != 0 {
				a.gaps.add(time.Duration(mono() - a.start))
				a.at = 0
			}
			s.mu.Unlock()
		} else {
			s.readSeq.Add(1)
		}
	}
	if fired := s.fired.Load(); fired != nil {
		s.finish()
		s.report(fired)
		return fired
	}
	if err != nil && err != io.EOF && s.attemptOver() {
		e := &Error{Phase: errclass.PhaseAttempt, Limit: s.t.cfg.attempt, cause: err}
		s.finish()
		s.report(e)
		return e
	}
	if err != nil {
		s.finish()
	}
	return err
}
