package breaker_test

import (
	"fmt"
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

func BenchmarkClosed(b *testing.B) { run(b, breaker.New(newInstant()), benchReq(b, "a.test")) }

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
