package retry_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtchain/chain/retry"
)

// instant answers every request at once with the same response, as cheaply
// as a RoundTripper can.
type instant struct{ resp *http.Response }

func (i instant) RoundTrip(*http.Request) (*http.Response, error) { return i.resp, nil }

// BenchmarkSuccess measures what the retry layer adds to a round trip that
// succeeds at once: compare the direct and retry sub-benchmarks.
func BenchmarkSuccess(b *testing.B) {
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	base := instant{resp: &http.Response{StatusCode: 200, Body: http.NoBody}}
	for _, bb := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"direct", base},
		{"retry", retry.New(base)},
		{"retry-no-budget", retry.New(base, retry.WithBudget(nil))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bb.rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOutage measures server hits per logical request against a
// server that always answers 503, with the default budget and attempts
// (the backoff is shortened to 1 µs so the benchmark runs in real time;
// the budget does not depend on it). hits/req is the figure to compare.
func BenchmarkOutage(b *testing.B) {
	var hits atomic.Int64
	down := countingDown{hits: &hits}
	rt := retry.New(down, retry.WithBackoff(time.Microsecond, time.Microsecond, retry.JitterNone))
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := rt.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(hits.Load())/float64(b.N), "hits/req")
}

type countingDown struct{ hits *atomic.Int64 }

func (c countingDown) RoundTrip(r *http.Request) (*http.Response, error) {
	c.hits.Add(1)
	return &http.Response{StatusCode: 503, Body: http.NoBody, Request: r}, nil
}
