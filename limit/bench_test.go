package limit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rtchain/chain/limit"
)

// instant answers at once with a shared body-less response, allocating
// nothing, so the benchmarks measure only what the limiter adds.
type instant struct{ resp *http.Response }

func (i instant) RoundTrip(*http.Request) (*http.Response, error) { return i.resp, nil }

func newInstant() instant {
	return instant{resp: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

// withBody answers at once with a response whose body is a fresh reader
// (one allocation, in the baseline too): the slot then lasts until Close.
type withBody struct{}

func (withBody) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: emptyBody{}}, nil
}

type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

func run(b *testing.B, rt http.RoundTripper, ctx context.Context) {
	req := newReq(b, ctx, "http://a.test/")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// BenchmarkBelowLimit is one request under the limit: subtract the baseline
// (the next layer alone) from the others.
func BenchmarkBelowLimit(b *testing.B) {
	cancelled, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		next http.RoundTripper
		ctx  context.Context
	}{
		{"nobody", newInstant(), context.Background()},
		{"body", withBody{}, context.Background()},
		{"body+cancelable-ctx", withBody{}, cancelled},
	} {
		b.Run("baseline/"+tc.name, func(b *testing.B) { run(b, tc.next, tc.ctx) })
		b.Run("fixed/"+tc.name, func(b *testing.B) { run(b, limit.New(tc.next, limit.WithMaxInFlight(100)), tc.ctx) })
		b.Run("adaptive/"+tc.name, func(b *testing.B) { run(b, limit.New(tc.next), tc.ctx) })
	}
}

// BenchmarkRejected is the cost of shedding a request.
func BenchmarkRejected(b *testing.B) {
	rt := limit.New(withBody{}, limit.WithMaxInFlight(1))
	req := newReq(b, context.Background(), "http://a.test/")
	held, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer held.Body.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err == nil {
			b.Fatal("admitted")
		}
	}
}

func BenchmarkParallel(b *testing.B) {
	for _, hosts := range []int{1, 64} {
		reqs := make([]*http.Request, hosts)
		for i := range reqs {
			reqs[i] = newReq(b, context.Background(), fmt.Sprintf("http://h%d.test/", i))
		}
		for _, c := range []struct {
			name string
			rt   http.RoundTripper
		}{
			{"baseline", newInstant()},
			{"fixed", limit.New(newInstant(), limit.WithMaxInFlight(1000))},
			{"adaptive", limit.New(newInstant())},
		} {
			b.Run(fmt.Sprintf("%s/hosts=%d", c.name, hosts), func(b *testing.B) {
				var id atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					req := reqs[int(id.Add(1))%hosts]
					for pb.Next() {
						if _, err := c.rt.RoundTrip(req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
