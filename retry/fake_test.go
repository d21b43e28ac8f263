package retry_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/retry"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel),
// four at a time, so that on a loaded machine their own work does not
// starve the loopback exchanges of the others. The tests that look at the
// whole process (its memory, the garbage collector) do not call
// t.Parallel: they run alone, before the parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(4)
	goleak.VerifyTestMain(m)
}

// step is one scripted outcome of the fake transport.
type step struct {
	status int
	header http.Header
	body   string
	err    error
}

// seen is what the fake transport saw of one attempt.
type seen struct {
	method  string
	attempt int
	header  http.Header
	body    string
	req     *http.Request
}

// script is a fake RoundTripper that plays steps in order (the last one
// repeats), reads and closes request bodies as a real transport does, and
// counts the response bodies it hands out and those closed.
type script struct {
	mu    sync.Mutex
	steps []step
	seen  []seen

	opened, closed atomic.Int32
	idle           atomic.Int32 // CloseIdleConnections calls
}

func newScript(steps ...step) *script { return &script{steps: steps} }

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	s.mu.Lock()
	i := len(s.seen)
	s.seen = append(s.seen, seen{method: r.Method, attempt: retry.Attempt(r.Context()), header: r.Header.Clone(), body: string(b), req: r})
	st := s.steps[min(i, len(s.steps)-1)]
	s.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	h := st.header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	s.opened.Add(1)
	return &http.Response{
		StatusCode: st.status,
		Status:     http.StatusText(st.status),
		Header:     h,
		Body:       &countBody{Reader: bytes.NewReader([]byte(st.body)), closed: &s.closed},
		Request:    r,
	}, nil
}

func (s *script) CloseIdleConnections() { s.idle.Add(1) }

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *script) attempts() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

// countBody is a response body that counts its first Close.
type countBody struct {
	*bytes.Reader
	once   sync.Once
	closed *atomic.Int32
}

func (b *countBody) Close() error {
	b.once.Do(func() { b.closed.Add(1) })
	return nil
}

// reqBody is a request body that records whether it was closed.
type reqBody struct {
	io.Reader
	closes atomic.Int32
}

func (b *reqBody) Close() error { b.closes.Add(1); return nil }

// bodyTracker makes replayable request bodies and remembers each one made,
// so a test can check that every body was closed.
type bodyTracker struct {
	mu     sync.Mutex
	data   string
	bodies []*reqBody
}

func (t *bodyTracker) get() (io.ReadCloser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := &reqBody{Reader: bytes.NewReader([]byte(t.data))}
	t.bodies = append(t.bodies, b)
	return b, nil
}

// request returns a request whose Body and GetBody come from t.
func (t *bodyTracker) request(tb testing.TB, method string) *http.Request {
	tb.Helper()
	b, _ := t.get()
	r, err := http.NewRequest(method, "http://example.test/x", b)
	if err != nil {
		tb.Fatal(err)
	}
	r.GetBody = t.get
	return r
}

// unclosed returns how many bodies made were never closed.
func (t *bodyTracker) unclosed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, b := range t.bodies {
		if b.closes.Load() == 0 {
			n++
		}
	}
	return n
}

func (t *bodyTracker) made() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.bodies)
}

// get builds a GET request for tests that need no body.
func get(tb testing.TB) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://example.test/x", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// noJitter is a backoff option that makes waits exact: 100 ms, 200 ms, ...
var noJitter = retry.WithBackoff(100e6, 10e9, retry.JitterNone)

// noSpread removes the random extra on top of a Retry-After (and makes full
// jitter wait 0), so that waits are exact.
var noSpread = retry.WithRandom(func() float64 { return 0 })
