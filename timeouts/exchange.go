package timeouts

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
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
// holds the request and response body wrappers.
//
// Times are mono() nanoseconds; 0 means "not set".
type exchange struct {
	t       *Transport
	parent  context.Context
	req     *http.Request // the caller's, for the hook
	resp    respBody
	reqBody reqBody

	mu sync.Mutex // guards every field below
	// context state
	done       chan struct{} // made on the first Done call
	err        error         // non-nil once the context is done
	funcs      []afterFunc   // registered by the context package (AfterFunc)
	nextFunc   uint64
	stopParent func() bool // stops the watch of parent.Done
	trace      *traceState
	// timer state
	phase     int
	slot      *timerSlot
	timerAt   int64 // when the timer is due, or 0
	attemptAt int64
	headerAt  int64
	written   bool  // the request has been written: the header clock may run
	readAt    int64 // deadline of the Read in progress, or 0
	readStart int64
	readLimit time.Duration
	writeAt   int64 // deadline of the write idle clock, or 0
	writeLast int64
	writeLim  time.Duration
	bodyGaps  *p95
	writeGaps ewma
	fired     *Error // the timeout this exchange declared
	reported  bool   // the hook was called
}

type afterFunc struct {
	id uint64
	f  func()
}

// nextDeadline returns the earliest running deadline, or 0.
func (s *exchange) nextDeadline() int64 {
	if s.phase >= phaseUpgraded {
		return 0
	}
	d := s.attemptAt
	if s.phase == phaseHeader && s.headerAt != 0 && (d == 0 || s.headerAt < d) {
		d = s.headerAt
	}
	if s.writeAt != 0 && (d == 0 || s.writeAt < d) {
		d = s.writeAt
	}
	if s.readAt != 0 && (d == 0 || s.readAt < d) {
		d = s.readAt
	}
	return d
}

// schedule makes sure the timer fires no later than the earliest running
// deadline. A timer already due earlier is left alone: it re-evaluates when
// it fires. Called with s.mu held.
func (s *exchange) schedule(now int64) {
	next := s.nextDeadline()
	if next == 0 || (s.timerAt != 0 && s.timerAt <= next) {
		return
	}
	if s.slot == nil {
		s.slot = s.t.getSlot(s)
	}
	s.timerAt = next
	s.slot.t.Reset(time.Duration(next - now))
}

// onTimer runs on the timer's goroutine. It declares the timeout whose
// deadline passed, or schedules the next check.
func (s *exchange) onTimer() {
	s.mu.Lock()
	if s.phase >= phaseUpgraded || s.err != nil {
		s.mu.Unlock()
		return
	}
	s.timerAt = 0
	now := mono()
	var ph errclass.Phase
	var lim time.Duration
	switch c := &s.t.cfg; {
	case s.attemptAt != 0 && now >= s.attemptAt:
		ph, lim = errclass.PhaseAttempt, c.attempt
	case s.phase == phaseHeader && s.headerAt != 0 && now >= s.headerAt:
		ph, lim = errclass.PhaseResponseHeader, c.header
	case s.writeAt != 0 && now >= s.writeAt:
		ph, lim = errclass.PhaseWriteIdle, s.writeLim
	case s.readAt != 0 && now >= s.readAt:
		ph, lim = errclass.PhaseBodyIdle, s.readLimit
	default:
		s.schedule(now)
		s.mu.Unlock()
		return
	}
	if s.parentExpired() { // the caller's own end wins; it propagates by itself
		s.mu.Unlock()
		return
	}
	s.fired = &Error{Phase: ph, Limit: lim}
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

// finish ends the exchange: stops the timer, cancels the context and stops
// watching the parent. It runs once; later calls do nothing.
func (s *exchange) finish() {
	s.mu.Lock()
	if s.phase == phaseDone {
		s.mu.Unlock()
		return
	}
	s.phase = phaseDone
	s.readAt, s.writeAt = 0, 0
	slot := s.slot
	s.slot = nil
	funcs := s.cancelLocked(context.Canceled)
	stop := s.stopParent
	s.stopParent = nil
	s.mu.Unlock()
	if slot != nil {
		s.t.putSlot(slot)
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
	slot := s.slot
	s.slot = nil
	s.mu.Unlock()
	if slot != nil {
		s.t.putSlot(slot)
	}
}

// markWritten starts the header clock. Called with s.mu held.
func (s *exchange) markWritten() {
	if s.written {
		return
	}
	s.written = true
	if s.phase == phaseHeader && s.t.cfg.header > 0 {
		now := mono()
		s.headerAt = now + int64(s.t.cfg.header)
		s.schedule(now)
	}
}

// ---- timers ----

// timerSlot is a reusable timer. Its callback is bound once, so a round trip
// costs no allocation for its timer. A callback that runs late, after the slot
// went to another exchange, only makes that exchange re-check its deadlines.
type timerSlot struct {
	t  *time.Timer
	mu sync.Mutex // guards s
	s  *exchange
}

func (sl *timerSlot) fire() {
	sl.mu.Lock()
	s := sl.s
	sl.mu.Unlock()
	if s != nil {
		s.onTimer()
	}
}

func (t *Transport) getSlot(s *exchange) *timerSlot {
	sl, _ := t.slots.Get().(*timerSlot)
	if sl == nil {
		sl = &timerSlot{}
		sl.t = time.AfterFunc(time.Hour, sl.fire)
		sl.t.Stop()
	}
	sl.mu.Lock()
	sl.s = s
	sl.mu.Unlock()
	return sl
}

func (t *Transport) putSlot(sl *timerSlot) {
	sl.mu.Lock()
	sl.s = nil
	sl.mu.Unlock()
	sl.t.Stop()
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
		s.headerAt = 0
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

// reqBody watches the transport's reads of the request body for the write
// idle bound: the clock runs from the return of one Read to the next call.
type reqBody struct {
	s  *exchange
	rc io.ReadCloser
}

func (b *reqBody) Read(p []byte) (int, error) {
	s := b.s
	s.writeEnter()
	n, err := b.rc.Read(p)
	s.writeExit(err)
	return n, err
}

// Close closes the caller's body; the request counts as written.
func (b *reqBody) Close() error {
	s := b.s
	s.mu.Lock()
	s.writeAt = 0
	s.markWritten()
	s.mu.Unlock()
	return b.rc.Close()
}

func (s *exchange) writeEnter() {
	s.mu.Lock()
	if s.writeAt != 0 {
		if s.t.cfg.adaptiveWrite.on() {
			s.writeGaps.add(time.Duration(mono() - s.writeLast))
		}
		s.writeAt = 0
	}
	s.mu.Unlock()
}

func (s *exchange) writeExit(err error) {
	s.mu.Lock()
	c := &s.t.cfg
	switch {
	case err != nil: // EOF or failure: the upload is over
		s.writeAt = 0
		s.markWritten()
	case c.writeIdle > 0 && s.phase < phaseUpgraded:
		now := mono()
		s.writeLim = c.writeIdle
		if c.adaptiveWrite.on() {
			s.writeLim = s.writeGaps.bound(c.writeIdle, c.adaptiveWrite)
		}
		s.writeLast = now
		s.writeAt = now + int64(s.writeLim)
		s.schedule(now)
	}
	s.mu.Unlock()
}

// respBody enforces the body idle bound on the response body and ends the
// exchange at EOF, on a read error or on Close.
type respBody struct {
	s  *exchange
	rc io.ReadCloser
}

func (b *respBody) Read(p []byte) (int, error) {
	s := b.s
	if err := s.readEnter(); err != nil {
		return 0, err
	}
	n, err := b.rc.Read(p)
	return n, s.readExit(err)
}

// Close closes the body and ends the exchange.
func (b *respBody) Close() error {
	err := b.rc.Close()
	b.s.finish()
	return err
}

// upgradedBody is the body of a 101 response: it keeps io.Writer.
type upgradedBody struct {
	respBody
	w io.Writer
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// readEnter starts the idle clock, or returns the timeout already declared.
func (s *exchange) readEnter() error {
	s.mu.Lock()
	if e := s.fired; e != nil {
		s.mu.Unlock()
		s.report(e)
		return e
	}
	c := &s.t.cfg
	if s.phase == phaseBody && c.bodyIdle > 0 {
		now := mono()
		lim := c.bodyIdle
		if c.adaptiveBody.on() {
			if s.bodyGaps == nil {
				s.bodyGaps = new(p95)
			}
			lim = s.bodyGaps.bound(lim, c.adaptiveBody)
		}
		s.readLimit = lim
		s.readStart = now
		s.readAt = now + int64(lim)
		s.schedule(now)
	}
	s.mu.Unlock()
	return nil
}

// readExit stops the idle clock and returns the error for the caller: this
// layer's timeout when its timer fired during the Read.
func (s *exchange) readExit(err error) error {
	s.mu.Lock()
	if s.readAt != 0 {
		if s.bodyGaps != nil {
			s.bodyGaps.add(time.Duration(mono() - s.readStart))
		}
		s.readAt = 0
	}
	fired := s.fired
	s.mu.Unlock()
	if fired != nil {
		s.finish()
		s.report(fired)
		return fired
	}
	if err != nil {
		s.finish()
	}
	return err
}
