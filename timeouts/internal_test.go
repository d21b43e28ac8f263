package timeouts

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

const ms = time.Millisecond

// The read idle rule of WithAdaptiveBodyIdle, exactly as documented.
func TestReadGapsRule(t *testing.T) {
	t.Parallel()
	a := adaptive{factor: 1.8, floor: 200 * ms, ceiling: 10 * time.Second}
	var g readGaps
	// Cold start: the static bound, clamped to the ceiling; 0 (no static
	// bound) is the ceiling too.
	assert.Equal(t, 10*time.Second, g.bound(30*time.Second, a))
	assert.Equal(t, 10*time.Second, g.bound(0, a))
	assert.Equal(t, 200*ms, g.bound(50*ms, a), "clamped to the floor")
	assert.Equal(t, time.Second, g.bound(time.Second, a))

	// Waits shorter than max(1ms, floor/10) = 20ms are not gaps.
	for range 100 {
		g.add(19*ms, a)
	}
	assert.Zero(t, g.n)
	g.add(700*ms, a)
	g.add(700*ms, a)
	assert.Equal(t, 10*time.Second, g.bound(30*time.Second, a), "two gaps: still cold")
	g.add(700*ms, a)
	assert.Equal(t, 1260*ms, g.bound(30*time.Second, a), "from the 3rd gap: P95 x 1.8")

	// A first gap of 2s or more: 5s until the 3rd gap.
	g = readGaps{}
	g.add(2*time.Second, a)
	assert.Equal(t, 5*time.Second, g.bound(30*time.Second, a))
	g.add(time.Second, a)
	assert.Equal(t, 5*time.Second, g.bound(30*time.Second, a))
	g.add(time.Second, a)
	assert.Equal(t, 3600*ms, g.bound(30*time.Second, a))
	// The 5s fallback is clamped too.
	small := adaptive{factor: 2, floor: 10 * ms, ceiling: 3 * time.Second}
	g = readGaps{}
	g.add(2*time.Second, small)
	assert.Equal(t, 3*time.Second, g.bound(30*time.Second, small))

	// Nearest-rank P95 of 20 gaps 1..20 (x 10ms) is the 19th; the order of
	// arrival does not matter.
	b := adaptive{factor: 2, floor: 10 * ms, ceiling: time.Minute}
	g = readGaps{}
	for _, d := range []int{20, 3, 17, 1, 19, 5, 2, 18, 4, 16, 6, 15, 7, 14, 8, 13, 9, 12, 10, 11} {
		g.add(time.Duration(d)*10*ms, b)
	}
	assert.Equal(t, 380*ms, g.bound(0, b))
	// Only the last 32 gaps count; one outlier in 32 is below the 95th
	// percentile (rank 31 of 32), two reach it.
	for range window {
		g.add(100*ms, b)
	}
	assert.Equal(t, 200*ms, g.bound(0, b))
	g.add(10*time.Second, b)
	assert.Equal(t, 200*ms, g.bound(0, b))
	g.add(10*time.Second, b)
	assert.Equal(t, 20*time.Second, g.bound(0, b))
}

// The write idle rule of WithAdaptiveWriteIdle, exactly as documented.
func TestWriteGapsRule(t *testing.T) {
	t.Parallel()
	a := adaptive{factor: 3, floor: 100 * ms, ceiling: 5 * time.Second}
	var g writeGaps
	assert.Equal(t, 5*time.Second, g.bound(30*time.Second, a), "cold: static, clamped")
	assert.Equal(t, 5*time.Second, g.bound(0, a), "cold, no static bound: the ceiling")
	g.add(9*ms, a) // below max(1ms, floor/10) = 10ms: not a gap
	g.add(100*ms, a)
	g.add(200*ms, a)
	assert.Equal(t, 5*time.Second, g.bound(30*time.Second, a), "two gaps: still cold")
	g.add(600*ms, a)
	// (0.2*100 + 0.3*200 + 0.5*600) x 3 = 380 x 3
	assert.Equal(t, 1140*ms, g.bound(30*time.Second, a))
	g.add(600*ms, a)
	// (0.2*200 + 0.3*600 + 0.5*600) x 3 = 520 x 3
	assert.Equal(t, 1560*ms, g.bound(30*time.Second, a))
	for range 3 {
		g.add(5*time.Second, a)
	}
	assert.Equal(t, 5*time.Second, g.bound(0, a), "clamped to the ceiling")
	for range 3 {
		g.add(10*ms, a)
	}
	assert.Equal(t, 100*ms, g.bound(0, a), "clamped to the floor")
}

// The probe finds net/http/httptrace's context key; if it did not, the
// header clock would start at RoundTrip for every request.
func TestTraceKeyProbe(t *testing.T) {
	t.Parallel()
	require.NotNil(t, traceKey)
	ct := &httptrace.ClientTrace{}
	ctx := httptrace.WithClientTrace(context.Background(), ct)
	assert.Same(t, ct, ctx.Value(traceKey))
}

// A trace set by the caller keeps working under the middleware: its hooks
// are called as well as ours.
func TestTraceComposes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
		srv.Listener = transporttest.NewMemListener()
		srv.Start()
		defer srv.Close()
		var get, got, wrote atomic.Bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GetConn:      func(string) { get.Store(true) },
			GotConn:      func(httptrace.GotConnInfo) { got.Store(true) },
			WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		b := srv.Client().Transport
		defer b.(*http.Transport).CloseIdleConnections()
		resp, err := New(b).RoundTrip(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.True(t, get.Load())
		assert.True(t, got.Load())
		assert.True(t, wrote.Load())
	})
}

// The timer slot is reused: a second round trip through a Transport takes
// the first one's timer.
func TestTimerSlotReused(t *testing.T) {
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	tr := New(next)
	found := 0
	// sync.Pool may drop a Put (it does so at random under -race): try a few.
	for range 20 {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		_, err := tr.RoundTrip(req)
		require.NoError(t, err)
		if sl, _ := tr.slots.pool.Get().(*timerSlot[exchange, *exchange]); sl != nil {
			found++
			assert.Nil(t, sl.user.Load(), "a pooled slot points at no exchange")
			tr.slots.pool.Put(sl)
		}
	}
	assert.Positive(t, found, "the slot goes back to the pool")
}

// A slot's timer may still be set from its previous user when the next one
// takes it, and fire while that round trip starts: everything the tick reads
// (the exchange's slot field included) is written before the exchange is
// published to the slot. Under -race these failed when the slot was assigned
// after it was published.
func TestTimerSlotStaleFireDuringStart(t *testing.T) {
	t.Parallel()
	tr := New(slowNext(), WithResponseHeader(time.Second))
	staleFireDuringStart(t, tr, func() { plantArmed(&tr.slots) })
}

func TestTotalSlotStaleFireDuringStart(t *testing.T) {
	t.Parallel()
	tr := Total(time.Second)(slowNext()).(*total)
	staleFireDuringStart(t, tr, func() { plantArmed(&tr.slots) })
}

// slowNext answers after 5ms, long enough for a 1ms stale timer to fire.
func slowNext() http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		time.Sleep(5 * ms)
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
}

// plantArmed puts back in p a slot set to fire in 1ms with no user, as a
// finished round trip leaves it.
func plantArmed[T any, P ticker[T]](p *slots[T, P]) {
	sl := p.get(false)
	sl.arm(ms)
	p.put(sl)
}

// staleFireDuringStart sends 20 requests through rt, each after plant.
func staleFireDuringStart(t *testing.T, rt http.RoundTripper, plant func()) {
	t.Helper()
	for range 20 {
		plant()
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
	}
}

// recordScanner follows TLS record headers however the stream is cut.
func TestRecordScanner(t *testing.T) {
	t.Parallel()
	stream := []byte{
		0x16, 3, 1, 0, 2, 'a', 'b', // handshake, 2 bytes
		0x14, 3, 3, 0, 1, 1, // change cipher spec
		0x17, 3, 3, 1, 0, // application data, 256 bytes
	}
	stream = append(stream, make([]byte, 256)...)
	stream = append(stream, 0x15, 3, 3, 0, 0) // alert, empty
	want := []byte{0x16, 0x14, 0x17, 0x15}
	for _, cut := range []int{1, 2, 3, 5, 7, 100, len(stream)} {
		var r recordScanner
		var got []byte
		for p := stream; len(p) > 0; {
			k := min(cut, len(p))
			r.scan(p[:k], func(typ byte) { got = append(got, typ) })
			p = p[k:]
		}
		assert.Equal(t, want, got, "cut every %d bytes", cut)
	}
}

func TestIsRequestLine(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"GET / HTTP/1.1\r\n": true, "PROPFIND /x HTTP/1.1": true, "CONNECT h:443 HTTP/1.1": true,
		"get / HTTP/1.1": false, "GET": false, "\x16\x03\x01": false, "": false, "ABCDEFGHIJKLMNOPQ /": false,
	} {
		assert.Equal(t, want, isRequestLine([]byte(p)), "%q", p)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// instantBody is a one-byte body, reset by instant for every round trip.
type instantBody struct{ done bool }

func (b *instantBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.done = true
	p[0] = 'x'
	return 1, nil
}

func (b *instantBody) Close() error { return nil }

// instant answers at once, reusing one response; it asks the request's
// context for Done, as net/http does (single goroutine only).
func instant() http.RoundTripper {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 1}
	body := &instantBody{}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_ = r.Context().Done()
		if ct := httptrace.ContextClientTrace(r.Context()); ct != nil && ct.WroteRequest != nil {
			ct.WroteRequest(httptrace.WroteRequestInfo{})
		}
		body.done = false
		resp.Body = body
		resp.Request = r
		return resp, nil
	})
}

// stdlibAttempt is the per-attempt layer written the obvious way with the
// standard library, for BenchmarkContext: a WithDeadlineCause context for the
// attempt bound, an AfterFunc timer for the header bound started when the
// request is written (httptrace.WithClientTrace), and a body wrapper that
// releases both at Close.
type stdlibAttempt struct {
	next            http.RoundTripper
	attempt, header time.Duration
}

var errStdlib = errors.New("timeout")

func (s stdlibAttempt) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithDeadlineCause(req.Context(), time.Now().Add(s.attempt), errStdlib)
	var header *time.Timer
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			header = time.AfterFunc(s.header, cancel)
		},
	})
	resp, err := s.next.RoundTrip(req.WithContext(ctx))
	if header != nil {
		header.Stop()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error { b.cancel(); return b.ReadCloser.Close() }

func roundTrips(b *testing.B, rt http.RoundTripper) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

// BenchmarkContext compares the hand-written context (ctxState) and the
// probed trace key with the standard library's way of doing the same (see
// the numbers on ctxState).
func BenchmarkContext(b *testing.B) {
	opts := []Option{WithResponseHeader(3 * time.Second), WithBodyIdle(30 * time.Second), WithAttempt(10 * time.Second)}
	b.Run("hand-written", func(b *testing.B) { roundTrips(b, New(instant(), opts...)) })
	b.Run("stdlib", func(b *testing.B) {
		roundTrips(b, stdlibAttempt{next: instant(), attempt: 10 * time.Second, header: 3 * time.Second})
	})
	// What answering the probed key saves: deriving a context that carries
	// a trace, as httptrace.WithClientTrace does, per request.
	b.Run("with-client-trace-alone", func(b *testing.B) {
		ctx := context.Background()
		ct := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {}}
		b.ReportAllocs()
		for b.Loop() {
			c := httptrace.WithClientTrace(ctx, ct)
			if httptrace.ContextClientTrace(c) == nil {
				b.Fatal("no trace")
			}
		}
	})
}

// fakeConn is a net.Conn whose Write waits for release (when set) and whose
// Read returns reply; it records the read deadlines set on it.
type fakeConn struct {
	net.Conn
	release   chan struct{}
	reply     []byte
	mu        sync.Mutex
	deadlines []time.Time
}

func (f *fakeConn) Write(p []byte) (int, error) {
	if f.release != nil {
		<-f.release
	}
	return len(p), nil
}

func (f *fakeConn) Read(p []byte) (int, error) { return copy(p, f.reply), nil }

func (f *fakeConn) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deadlines = append(f.deadlines, t)
	return nil
}

// An answer that arrives before the write of its request has returned (the
// writer was descheduled) starts no header clock: otherwise the deadline
// would fire later on a connection that has its answer, or sits idle.
func TestConnHeaderClockAnswerBeforeWriteReturns(t *testing.T) {
	t.Parallel()
	d := &dialer{header: time.Second}
	f := &fakeConn{reply: []byte("HTTP/1.1 200 OK\r\n"), release: make(chan struct{})}
	c := d.wrap(f).(*conn)
	wrote := make(chan error)
	go func() {
		_, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		wrote <- err
	}()
	writing := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.writing
	}
	for writing() != 1 {
		time.Sleep(time.Millisecond) // the write is in progress
	}
	_, err := c.Read(make([]byte, 64))
	require.NoError(t, err)
	close(f.release)
	require.NoError(t, <-wrote)
	assert.False(t, c.armed.Load())
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, dl := range f.deadlines {
		assert.True(t, dl.IsZero(), "a header deadline was set after the answer came")
	}

	// In the usual order the clock runs from the end of the write to the
	// first byte of the answer.
	f.release, f.deadlines = nil, nil
	f.mu.Unlock()
	_, err = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	require.NoError(t, err)
	assert.True(t, c.armed.Load())
	_, err = c.Read(make([]byte, 64))
	require.NoError(t, err)
	assert.False(t, c.armed.Load())
	f.mu.Lock()
	require.Len(t, f.deadlines, 2)
	assert.False(t, f.deadlines[0].IsZero())
	assert.True(t, f.deadlines[1].IsZero())
}
