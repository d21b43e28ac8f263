package rtprobe

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/redact"
	"github.com/rtchain/chain/retry"
)

// attemptTrace is the timing of one connection attempt, from httptrace.
type attemptTrace struct {
	hop   int       // 0 for the request, 1 for the first redirect's target...
	retry *retryLog // why this attempt was sent; nil for the first of a hop

	start, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, gotConn, wrote, firstByte time.Time

	dnsErr, connErr, tlsErr, wroteErr error
	reused                            bool
	remote                            string
}

// retryLog is one retry of the retry layer.
type retryLog struct {
	Reason string  `json:"reason"`
	WaitMS float64 `json:"wait_ms"`
}

// redirect is one redirect the client followed.
type redirect struct {
	Status     int    `json:"status"`
	StatusText string `json:"-"`
	Location   string `json:"location"` // redacted
}

// tracer records every attempt and redirect of one request. Its callbacks
// run on the transport's goroutines; the mutex guards every field.
type tracer struct {
	mu        sync.Mutex
	attempts  []*attemptTrace
	redirects []redirect
	retries   []int     // hop of each retry
	pending   *retryLog // the retry whose attempt has not dialed yet
}

// cur returns the attempt in progress. t.mu must be held.
func (t *tracer) cur() *attemptTrace {
	if len(t.attempts) == 0 {
		t.attempts = append(t.attempts, &attemptTrace{start: time.Now(), hop: len(t.redirects)})
	}
	return t.attempts[len(t.attempts)-1]
}

func (t *tracer) set(f func(a *attemptTrace)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(t.cur())
}

// tracerKey is the context key of a probe's tracer.
type tracerKey struct{}

// traceRetry is the retry layer's hook: it tells the tracer of the request,
// if it has one, that the next attempt is a retry.
func traceRetry(e retry.Event) {
	if t, ok := e.Request.Context().Value(tracerKey{}).(*tracer); ok {
		t.onRetry(e)
	}
}

// onRetry records that the next attempt is a retry.
func (t *tracer) onRetry(e retry.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = &retryLog{Reason: e.Reason, WaitMS: msf(e.Wait)}
	t.retries = append(t.retries, len(t.redirects))
}

// checkRedirect is the client's CheckRedirect: it records the redirect and
// keeps net/http's default limit of 10.
func (t *tracer) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	rd := redirect{Location: redact.URL(req.URL)}
	if r := req.Response; r != nil {
		rd.Status, rd.StatusText = r.StatusCode, strings.TrimSpace(strings.TrimPrefix(r.Status, fmt.Sprint(r.StatusCode)))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.redirects = append(t.redirects, rd)
	t.pending = nil
	return nil
}

// isTCP tells the dials of the request from those of the DNS resolver
// (udp, or tcp to port 53 is rare enough to ignore).
func isTCP(network string) bool { return strings.HasPrefix(network, "tcp") }

func (t *tracer) trace() *httptrace.ClientTrace {
	now := time.Now
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.attempts = append(t.attempts, &attemptTrace{start: now(), hop: len(t.redirects), retry: t.pending})
			t.pending = nil
		},
		DNSStart: func(httptrace.DNSStartInfo) { t.set(func(a *attemptTrace) { a.dnsStart = now() }) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			t.set(func(a *attemptTrace) { a.dnsDone, a.dnsErr = now(), i.Err })
		},
		ConnectStart: func(network, _ string) {
			if isTCP(network) {
				t.set(func(a *attemptTrace) { a.connStart = now() })
			}
		},
		ConnectDone: func(network, _ string, err error) {
			if isTCP(network) {
				t.set(func(a *attemptTrace) { a.connDone, a.connErr = now(), err })
			}
		},
		TLSHandshakeStart: func() { t.set(func(a *attemptTrace) { a.tlsStart = now() }) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			t.set(func(a *attemptTrace) { a.tlsDone, a.tlsErr = now(), err })
		},
		GotConn: func(i httptrace.GotConnInfo) {
			t.set(func(a *attemptTrace) {
				a.gotConn, a.reused = now(), i.Reused
				if i.Conn != nil {
					a.remote = i.Conn.RemoteAddr().String()
				}
			})
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			t.set(func(a *attemptTrace) { a.wrote, a.wroteErr = now(), i.Err })
		},
		GotFirstResponseByte: func() { t.set(func(a *attemptTrace) { a.firstByte = now() }) },
	}
}

// snapshot returns copies of the attempts, the redirects and the number of
// attempts the retry layer made on the last hop.
func (t *tracer) snapshot() ([]attemptTrace, []redirect, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]attemptTrace, len(t.attempts))
	for i, a := range t.attempts {
		out[i] = *a
	}
	tries := 1
	for _, hop := range t.retries {
		if hop == len(t.redirects) {
			tries++
		}
	}
	return out, append([]redirect(nil), t.redirects...), tries
}

// Phase states, as shown in JSON.
const (
	stateDone    = "done"
	stateFailed  = "failed"
	stateTimeout = "timeout"
	stateReused  = "reused" // the connection was reused: no dns, connect or tls
	stateSkipped = "skipped"
)

// phaseResult is one phase of an attempt.
type phaseResult struct {
	State string  `json:"state"`
	MS    float64 `json:"ms"`
}

// phaseSet is the phases of one attempt (and the body, for the last).
type phaseSet struct {
	DNS       phaseResult  `json:"dns"`
	Connect   phaseResult  `json:"connect"`
	TLS       phaseResult  `json:"tls"`
	FirstByte phaseResult  `json:"first_byte"`
	Body      *phaseResult `json:"body,omitempty"`
}

// ending says how the attempt being judged ended: at end, failed with err
// (nil for success, or for an earlier attempt whose error is unknown).
type ending struct {
	end    time.Time
	failed bool
	err    error
}

// phases judges a's phases. The first phase that started and did not finish
// is the one that failed, if the attempt failed: shown as a timeout when the
// error is one.
func (a attemptTrace) phases(e ending) phaseSet {
	var ps phaseSet
	failedOpen := false // a phase in progress at the end was marked failed
	judge := func(start, done time.Time, err error) phaseResult {
		switch {
		case start.IsZero():
			if a.reused {
				return phaseResult{State: stateReused}
			}
			return phaseResult{State: stateSkipped}
		case !done.IsZero() && err == nil:
			return phaseResult{State: stateDone, MS: msf(done.Sub(start))}
		case !done.IsZero():
			return phaseResult{State: stateFailed, MS: msf(done.Sub(start))}
		case e.failed && !failedOpen && !e.end.IsZero():
			failedOpen = true
			st := stateFailed
			if errclass.Classify(e.err) == errclass.Timeout {
				st = stateTimeout
			}
			return phaseResult{State: st, MS: msf(e.end.Sub(start))}
		}
		return phaseResult{State: stateFailed}
	}
	ps.DNS = judge(a.dnsStart, a.dnsDone, a.dnsErr)
	ps.Connect = judge(a.connStart, a.connDone, a.connErr)
	ps.TLS = judge(a.tlsStart, a.tlsDone, a.tlsErr)
	waitFrom := a.wrote
	if waitFrom.IsZero() || a.wroteErr != nil {
		waitFrom = a.gotConn // the request write failed or never ended
	}
	ps.FirstByte = judge(waitFrom, a.firstByte, nil)
	if ps.FirstByte.State == stateReused { // only dns, connect and tls are skipped on reuse
		ps.FirstByte.State = stateSkipped
	}
	return ps
}

// cell is the text form of a phase result.
func (p phaseResult) cell() string {
	switch p.State {
	case stateDone:
		return fmtMS(p.MS)
	case stateFailed:
		if p.MS > 0 {
			return "failed after " + fmtMS(p.MS)
		}
		return "failed"
	case stateTimeout:
		return "timed out after " + fmtMS(p.MS)
	case stateReused:
		return "- (reused connection)"
	}
	return "-"
}

// msf is d in milliseconds, rounded to the microsecond.
func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fmtMS formats milliseconds with one decimal, or seconds from 1 s up.
func fmtMS(m float64) string {
	if m >= 1000 {
		return fmt.Sprintf("%.2fs", m/1000)
	}
	return fmt.Sprintf("%.1fms", m)
}

// ms formats d as fmtMS does.
func ms(d time.Duration) string { return fmtMS(msf(d)) }
