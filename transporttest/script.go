package transporttest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Step is one answer of a [Script]: after Delay, either the error Err or a
// response with Status, Header and Body.
type Step struct {
	// Status is the response status code; 0 means 200. Ignored when Err is
	// set.
	Status int
	// Header is the response header (cloned for each response).
	Header http.Header
	// Body is the response body.
	Body string
	// BodyErr, when not nil, is the error the response body's Read returns
	// once Body has been read, in place of io.EOF: a body cut mid-stream.
	BodyErr error
	// Err, when not nil, is returned by RoundTrip (with a nil response).
	Err error
	// Delay is how long RoundTrip waits before answering. The wait ends early
	// when the request's context is done; RoundTrip then returns the
	// context's cause.
	Delay time.Duration
}

// A Script is an [http.RoundTripper] that needs no network: its n-th
// RoundTrip plays steps[n], and every call after the last step plays the
// last one again (a Script with no steps answers 200 with an empty body).
//
// Each RoundTrip first records the request (see [Script.Seen]), reads its
// body (keeping the first 1 MiB) and closes it, as a transport that sent it
// would; then it waits for the step's Delay, honouring the request's context,
// and answers. A request whose context is already done fails at once with
// the context's cause, and still counts as a call. The Script counts the
// response bodies it hands out and how many of them were closed, so tests can
// check that a layer closes every body it discards.
//
// A Script is safe for concurrent use; its waits use the time package, so
// they run on the fake clock inside a testing/synctest bubble.
type Script struct {
	steps []Step

	calls      atomic.Int64
	bodies     atomic.Int64
	closed     atomic.Int64
	idleCloses atomic.Int64
	mu         sync.Mutex // guards seen
	seen       []Request
}

var _ http.RoundTripper = (*Script)(nil)

// NewScript returns a Script that plays steps in order. The steps are copied.
func NewScript(steps ...Step) *Script {
	steps = append([]Step(nil), steps...)
	for i := range steps {
		steps[i].Header = steps[i].Header.Clone()
	}
	return &Script{steps: steps}
}

// RoundTrip plays the next step for req. It never modifies req, and it
// always closes req.Body.
func (s *Script) RoundTrip(req *http.Request) (*http.Response, error) {
	n := int(s.calls.Add(1) - 1)
	s.record(req)
	step := Step{}
	if len(s.steps) > 0 {
		step = s.steps[min(n, len(s.steps)-1)]
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if step.Delay > 0 {
		t := time.NewTimer(step.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
	if step.Err != nil {
		return nil, step.Err
	}
	status := step.Status
	if status == 0 {
		status = http.StatusOK
	}
	header := step.Header.Clone()
	if header == nil {
		header = make(http.Header)
	}
	s.bodies.Add(1)
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          &scriptBody{r: strings.NewReader(step.Body), err: step.BodyErr, s: s},
		ContentLength: int64(len(step.Body)),
		Request:       req,
	}, nil
}

// record keeps req (the first 1 MiB of its body) and reads and closes its
// body, as a transport that sent it would.
func (s *Script) record(req *http.Request) {
	rec := Request{
		Method: req.Method,
		Host:   req.Host,
		Proto:  "HTTP/1.1",
		Header: req.Header.Clone(),
	}
	if req.URL != nil {
		rec.Path = req.URL.Path
		rec.RawQuery = req.URL.RawQuery
		if rec.Host == "" {
			rec.Host = req.URL.Host
		}
	}
	if req.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(req.Body, maxSeenBody))
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
		rec.Body = b
	}
	s.mu.Lock()
	s.seen = append(s.seen, rec)
	s.mu.Unlock()
}

// scriptBody reads its step's Body, then fails with err if set, and counts
// its first Close.
type scriptBody struct {
	r      *strings.Reader
	err    error
	s      *Script
	closed atomic.Bool
}

func (b *scriptBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *scriptBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.s.closed.Add(1)
	}
	return nil
}

// Calls returns how many times RoundTrip has been called.
func (s *Script) Calls() int { return int(s.calls.Load()) }

// Bodies returns how many response bodies the Script has handed out.
func (s *Script) Bodies() int { return int(s.bodies.Load()) }

// BodiesClosed returns how many of the response bodies handed out have been
// closed (each counts once, however often it is closed).
func (s *Script) BodiesClosed() int { return int(s.closed.Load()) }

// BodiesOpen returns how many of the response bodies handed out have not
// been closed yet. A test ends with BodiesOpen() == 0 when every body was
// closed, by the caller or by a layer that discarded it.
func (s *Script) BodiesOpen() int { return s.Bodies() - s.BodiesClosed() }

// Seen returns a copy of every request RoundTrip received, in call order.
// ConnID and TLS are zero.
func (s *Script) Seen() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.seen))
	for i, r := range s.seen {
		out[i] = r.clone()
	}
	return out
}

// CloseIdleConnections counts the call (see [Script.IdleCloses]); a Script
// has no connections. It lets tests check that layers above forward the
// call, as http.Client expects.
func (s *Script) CloseIdleConnections() { s.idleCloses.Add(1) }

// IdleCloses returns how many times CloseIdleConnections has been called.
func (s *Script) IdleCloses() int { return int(s.idleCloses.Load()) }

// String describes the script for test failure messages.
func (s *Script) String() string {
	return fmt.Sprintf("transporttest.Script{steps: %d, calls: %d, bodies open: %d}", len(s.steps), s.Calls(), s.BodiesOpen())
}
