package timeouts

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
)

// upload is the request body the transport reads: it runs the write idle
// clock, from the return of one of the transport's Reads to its next call,
// and marks a failure of the caller's body as the caller's (bodyError). Its
// state is guarded by the exchange's mutex, except s and rc, which never
// change, and err.
type upload struct {
	s      *exchange
	rc     io.ReadCloser
	err    atomic.Pointer[bodyError] // the first failure of rc's Read
	at     int64                     // deadline of the write idle clock, or 0
	last   int64                     // when the last Read returned
	lim    time.Duration
	gaps   writeGaps
	closed bool // Close was called: the clock never runs again
}

func (u *upload) Read(p []byte) (int, error) {
	s := u.s
	s.writeEnter()
	n, err := u.rc.Read(p)
	if err != nil && err != io.EOF {
		be := &bodyError{err: err}
		if !u.err.CompareAndSwap(nil, be) {
			be = u.err.Load()
		}
		err = be
	}
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

// writeEnter stops the write idle clock as the transport asks for more, and
// counts the wait as a gap of the upload.
func (s *exchange) writeEnter() {
	s.mu.Lock()
	if u := s.up; u.at != 0 {
		if a := s.t.cfg.adaptiveWrite; a.on() {
			u.gaps.add(time.Duration(s.t.clock.now()-u.last), a)
		}
		u.at = 0
	}
	s.mu.Unlock()
}

// writeExit starts the write idle clock as a Read of the body returns, or
// ends the upload on EOF or an error.
func (s *exchange) writeExit(err error) {
	s.mu.Lock()
	c, u := &s.t.cfg, s.up
	switch {
	case err != nil: // EOF or failure: the upload is over
		u.at = 0
		s.markWritten()
	case c.writeBounded() && s.phase < phaseUpgraded && !u.closed:
		now := s.t.clock.now()
		u.lim = c.writeIdle
		if a := c.adaptiveWrite; a.on() {
			u.lim = u.gaps.bound(c.writeIdle, a)
		}
		u.last = now
		u.at = now + int64(u.lim)
		s.arm(tick(u.lim))
	}
	s.mu.Unlock()
}

// bodyAdapt is the state of an adaptive body idle bound.
type bodyAdapt struct {
	gaps  readGaps
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

// readEnter starts the idle clock, or returns the timeout already declared.
// With a static bound it takes no lock and reads no clock: it marks the Read
// as in progress (readSeq odd), then makes sure the timer ticks (see
// exchange). With an adaptive bound it keeps an exact deadline and measures
// the Read's wait.
func (s *exchange) readEnter() error {
	if e := s.fired.Load(); e != nil {
		s.finish() // the bound fired while the caller was not in Read
		s.report(e)
		return e
	}
	c := &s.t.cfg
	switch {
	case c.adaptiveBody.on():
		s.mu.Lock()
		if s.adapt == nil {
			s.adapt = new(bodyAdapt)
		}
		a := s.adapt
		a.limit = a.gaps.bound(c.bodyIdle, c.adaptiveBody)
		a.start = s.t.clock.now()
		a.at = a.start + int64(a.limit)
		s.arm(tick(a.limit))
		s.mu.Unlock()
	case c.bodyIdle > 0:
		s.readSeq.Add(1)
		s.ensure(s.t.ticks.body)
	}
	return nil
}

// readExit stops the idle clock and returns the error for the caller: this
// layer's timeout when its timer fired during the Read, the caller's request
// body failure when that is what broke the exchange.
func (s *exchange) readExit(err error) error {
	c := &s.t.cfg
	switch {
	case c.adaptiveBody.on():
		s.mu.Lock()
		if a := s.adapt; a != nil && a.at != 0 {
			a.gaps.add(time.Duration(s.t.clock.now()-a.start), c.adaptiveBody)
			a.at = 0
		}
		s.mu.Unlock()
	case c.bodyIdle > 0:
		s.readSeq.Add(1)
	}
	if fired := s.fired.Load(); fired != nil {
		s.finish()
		s.report(fired)
		return fired
	}
	if err == nil {
		return nil
	}
	s.finish()
	switch {
	case err == io.EOF:
		return err
	case s.parent().Err() != nil:
		return errclass.Wrap(err)
	case s.bodyErr() != nil:
		return s.bodyErr()
	case s.attemptOver():
		e := &Error{Phase: errclass.PhaseAttempt, Limit: c.attempt, cause: err}
		s.report(e)
		return e
	}
	return errclass.Wrap(err)
}
