package breaker_test

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtchain/chain/breaker"
)

// instant answers at once with a shared response, allocating nothing, so the
// benchmarks measure only what the breaker adds.
type instant struct{ resp *http.Response }

func (i instant) RoundTrip(*http.Request) (*http.Response, error) { return i.resp, nil }

func newInstant() instant {
	return instant{resp: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

func benchReq(b *testing.B, host string) *http.Request {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	return req
}

func run(b *testing.B, rt http.RoundTripper, req *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaseline is the transport alone: subtract it from BenchmarkClosed.
func BenchmarkBaseline(b *testing.B) { run(b, newInstant(), benchReq(b, "a.test")) }

// BenchmarkClosed is the closed path for a response without a body
// (http.NoBody: HEAD, 204, an empty 200): the outcome is decided at the
// headers and nothing is allocated.
func BenchmarkClosed(b *testing.B) { run(b, breaker.New(newInstant()), benchReq(b, "a.test")) }

// reusable is a response body that can be read again after Reset, so that
// the benchmark allocates nothing of its own.
type reusable struct{ done bool }

func (r *reusable) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return copy(p, "ok"), nil
}

func (r *reusable) Close() error { return nil }

// withBody answers with one shared response whose body is reset each call.
type withBody struct {
	resp *http.Response
	body *reusable
}

func (w *withBody) RoundTrip(*http.Request) (*http.Response, error) {
	w.body.done = false
	w.resp.Body = w.body
	return w.resp, nil
}

func newWithBody() *withBody {
	body := &reusable{}
	return &withBody{resp: &http.Response{StatusCode: http.StatusOK, Body: body}, body: body}
}

// BenchmarkClosedWithBody is the closed path for a response with a body:
// the outcome waits for the body's end, which costs the body's wrapper
// (one allocation).
func BenchmarkClosedWithBody(b *testing.B) {
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"baseline", newWithBody()}, {"breaker", breaker.New(newWithBody())}} {
		b.Run(tc.name, func(b *testing.B) {
			req := benchReq(b, "a.test")
			buf := make([]byte, 16)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tc.rt.RoundTrip(req)
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
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	tr := breaker.New(newInstant(), breaker.WithFailure(func(*http.Response, error) bool { return true }))
	req := benchReq(b, "a.test")
	for range 20 {
		tr.RoundTrip(req)
	}
	if tr.State("a.test") != breaker.Open {
		b.Fatal("not open")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.RoundTrip(req); err == nil {
			b.Fatal("admitted")
		}
	}
}

func runParallel(b *testing.B, rt http.RoundTripper, hosts int) {
	reqs := make([]*http.Request, hosts)
	for i := range reqs {
		reqs[i] = benchReq(b, fmt.Sprintf("h%d.test", i))
	}
	var id atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := reqs[int(id.Add(1))%hosts]
		for pb.Next() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkParallel(b *testing.B) {
	for _, hosts := range []int{1, 64} {
		b.Run(fmt.Sprintf("baseline/hosts=%d", hosts), func(b *testing.B) { runParallel(b, newInstant(), hosts) })
		b.Run(fmt.Sprintf("closed/hosts=%d", hosts), func(b *testing.B) { runParallel(b, breaker.New(newInstant()), hosts) })
	}
}

func BenchmarkOpenParallel(b *testing.B) {
	tr := breaker.New(newInstant(), breaker.WithOpenDuration(time.Hour),
		breaker.WithFailure(func(*http.Response, error) bool { return true }))
	req := benchReq(b, "a.test")
	for range 20 {
		tr.RoundTrip(req)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.RoundTrip(req)
		}
	})
}

// BenchmarkFailing is the closed path when every call fails but the breaker
// cannot trip (MinRequests never reached): the cost of judging the window.
func BenchmarkClosedFailing(b *testing.B) {
	tr := breaker.New(newInstant(), breaker.WithMinRequests(1<<30),
		breaker.WithFailure(func(*http.Response, error) bool { return true }))
	run(b, tr, benchReq(b, "a.test"))
}

var sinkD time.Duration

// BenchmarkTwoClockReads is the floor of the closed path: it reads the
// monotonic clock twice (start and end of a call), as the breaker does.
func BenchmarkTwoClockReads(b *testing.B) {
	base := time.Now()
	for b.Loop() {
		sinkD += time.Since(base)
		sinkD += time.Since(base)
	}
}

// BenchmarkClosedFixedClock is the closed path with a clock that costs
// nothing: the breaker's own work, without the two clock reads.
func BenchmarkClosedFixedClock(b *testing.B) {
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run(b, breaker.New(newInstant(), breaker.WithClock(func() time.Time { return fixed })), benchReq(b, "a.test"))
}

// The closed path allocates nothing for a response without a body, and only
// the body's wrapper for one with a body.
func TestClosedPathAllocations(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "http://a.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	noBody := breaker.New(newInstant())
	if n := testing.AllocsPerRun(1000, func() { noBody.RoundTrip(req) }); n != 0 {
		t.Errorf("closed path without a body: %v allocations, want 0", n)
	}
	withBody := breaker.New(newWithBody())
	buf := make([]byte, 16)
	n := testing.AllocsPerRun(1000, func() {
		resp, _ := withBody.RoundTrip(req)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	})
	if n != 1 {
		t.Errorf("closed path with a body: %v allocations, want 1", n)
	}
}
