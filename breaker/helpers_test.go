package breaker_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/breaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// reply is what the fake next transport does for one call.
type reply struct {
	status int
	err    error
	delay  time.Duration // advanced on the fake clock before answering
}

// fakeNext is a scripted next RoundTripper: reply decides per request and the
// number of calls that reached it is counted.
type fakeNext struct {
	clock *fakeClock
	calls atomic.Int64
	reply func(*http.Request) reply
}

func (f *fakeNext) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if req.Body != nil {
		defer req.Body.Close()
	}
	r := reply{status: http.StatusOK}
	if f.reply != nil {
		r = f.reply(req)
	}
	if r.delay > 0 && f.clock != nil {
		f.clock.Advance(r.delay)
	}
	if r.err != nil {
		return nil, r.err
	}
	return &http.Response{StatusCode: r.status, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

// statusFor answers every call with the status set by the X-Status header
// (200 when absent) after the delay of the X-Delay header.
func statusFor(req *http.Request) reply {
	r := reply{status: http.StatusOK}
	if s := req.Header.Get("X-Status"); s != "" {
		switch s {
		case "err":
			r.err = io.ErrUnexpectedEOF
		default:
			var n int
			for _, ch := range s {
				n = n*10 + int(ch-'0')
			}
			r.status = n
		}
	}
	if d := req.Header.Get("X-Delay"); d != "" {
		r.delay, _ = time.ParseDuration(d)
	}
	return r
}

// quiet turns off every trip condition; a test turns on the one it checks.
func quiet() []breaker.Option {
	return []breaker.Option{
		breaker.WithFailureRate(0),
		breaker.WithP99(0),
		breaker.WithConcurrentFailureRate(0),
	}
}

func opts(clock *fakeClock, extra ...breaker.Option) []breaker.Option {
	return append([]breaker.Option{breaker.WithClock(clock.Now)}, extra...)
}

func newReq(t testing.TB, host, status string, delay time.Duration) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != "" {
		req.Header.Set("X-Status", status)
	}
	if delay > 0 {
		req.Header.Set("X-Delay", delay.String())
	}
	return req
}

// do sends n requests to host answered with status after delay and returns
// the number of rejections.
func do(t testing.TB, rt http.RoundTripper, host, status string, delay time.Duration, n int) (rejected int) {
	t.Helper()
	for range n {
		resp, err := rt.RoundTrip(newReq(t, host, status, delay))
		if err != nil {
			if !isOpen(err) {
				continue
			}
			rejected++
			continue
		}
		resp.Body.Close()
	}
	return rejected
}

func isOpen(err error) bool {
	var oe *breaker.OpenError
	return errors.As(err, &oe)
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int64
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func newBody(s string) *closeCounter { return &closeCounter{Reader: strings.NewReader(s)} }
