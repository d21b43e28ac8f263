package timeouts

import (
	"context"
	"crypto/tls"
	"net/http/httptrace"
)

// traceKey is the key net/http/httptrace stores its *ClientTrace under. It is
// unexported there; probeTraceKey learns it by asking ContextClientTrace.
// When the probe finds nothing (a change in the standard library), the header
// clock of a request without a body starts at RoundTrip, as without a trace,
// and TestTraceKeyProbe fails.
//
// Answering the key in the exchange's Value, instead of deriving a context
// with httptrace.WithClientTrace, saves that context (one allocation and
// about 50ns per round trip when the caller has no trace of its own, and a
// composition by reflection of the two traces when it has one; see
// BenchmarkContext and the numbers on ctxState).
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

// traceState is the trace an exchange answers for traceKey, made the first
// time next asks for it (a next that never asks pays nothing), and what the
// trace's hooks find: the caller's own trace and the connection claimed.
type traceState struct {
	ct   httptrace.ClientTrace
	prev *httptrace.ClientTrace // the caller's, or nil
	conn *conn                  // the NewTransport connection this exchange claimed
}

// clientTrace returns the trace the exchange answers for traceKey: the
// caller's own trace, if any, with three hooks of the exchange that call the
// caller's too.
func (s *exchange) clientTrace() *httptrace.ClientTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trace == nil {
		ts := new(traceState)
		if prev := httptrace.ContextClientTrace(s.parent()); prev != nil {
			ts.ct, ts.prev = *prev, prev
		}
		ts.ct.GetConn = s.onGetConn
		ts.ct.GotConn = s.onGotConn
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
	prev := s.trace.prev
	s.mu.Unlock()
	if prev != nil && prev.GetConn != nil {
		prev.GetConn(hostPort)
	}
}

// onGotConn claims a connection of NewTransport for the request, so that the
// connection leaves the response header bound to this exchange: one enforcer
// per bound.
func (s *exchange) onGotConn(info httptrace.GotConnInfo) {
	c := info.Conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	s.mu.Lock()
	if oc, ok := c.(*conn); ok && s.t.cfg.header > 0 && s.phase < phaseDone {
		// Under s.mu, so that finish releases what was claimed (the lock
		// order is s.mu, then the connection's).
		s.trace.conn = oc
		oc.claim(s)
	}
	prev := s.trace.prev
	s.mu.Unlock()
	if prev != nil && prev.GotConn != nil {
		prev.GotConn(info)
	}
}

func (s *exchange) onWroteRequest(info httptrace.WroteRequestInfo) {
	s.mu.Lock()
	s.markWritten()
	prev := s.trace.prev
	s.mu.Unlock()
	if prev != nil && prev.WroteRequest != nil {
		prev.WroteRequest(info)
	}
}
