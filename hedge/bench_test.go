package hedge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rtchain/chain/hedge"
)

// instant answers every request at once with a new empty 200 response. When
// watch is set it first asks for the request context's Done channel, as
// *http.Transport does, which is what lets the hedge layer arm its timer.
type instant struct{ watch bool }

func (i instant) RoundTrip(req *http.Request) (*http.Response, error) {
	if i.watch {
		_ = req.Context().Done()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// BenchmarkNoHedge measures what the hedge layer adds to a request that is
// hedgeable but answered before the delay, so no hedge fires: compare each
// hedge sub-benchmark with the direct one over the same next layer. "post"
// is a request that is never hedged (passed straight through); "cancellable"
// a request whose context can end (as a caller's deadline makes it), which
// the layer then watches.
func BenchmarkNoHedge(b *testing.B) {
	get, _ := http.NewRequest("GET", "http://example.test/", nil)
	post, _ := http.NewRequest("POST", "http://example.test/", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancellable := get.WithContext(ctx)
	for _, bb := range []struct {
		name string
		rt   http.RoundTripper
		req  *http.Request
	}{
		{"direct", instant{}, get},
		{"hedge-fixed", hedge.New(instant{}, hedge.WithDelay(time.Hour)), get},
		{"hedge-adaptive", hedge.New(instant{}), get},
		{"hedge-post", hedge.New(instant{}), post},
		{"direct-watching", instant{watch: true}, get},
		{"hedge-fixed-watching", hedge.New(instant{watch: true}, hedge.WithDelay(time.Hour)), get},
		{"hedge-adaptive-watching", hedge.New(instant{watch: true}), get},
		{"direct-watching-cancellable", instant{watch: true}, cancellable},
		{"hedge-fixed-watching-cancellable", hedge.New(instant{watch: true}, hedge.WithDelay(time.Hour)), cancellable},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bb.rt.RoundTrip(bb.req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
		b.Run(bb.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := bb.rt.RoundTrip(bb.req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		})
	}
}

// BenchmarkNoHedgeLoopback is BenchmarkNoHedge over a real *http.Transport
// and a loopback server: the cost of the layer next to the transport's own.
func BenchmarkNoHedgeLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	defer base.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancellable := req.WithContext(ctx)
	ht := hedge.New(base, hedge.WithDelay(time.Hour))
	defer ht.CloseIdleConnections()
	for _, bb := range []struct {
		name string
		rt   http.RoundTripper
		req  *http.Request
	}{
		{"direct", base, req},
		{"hedge", ht, req},
		{"direct-cancellable", base, cancellable},
		{"hedge-cancellable", ht, cancellable},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bb.rt.RoundTrip(bb.req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// TestNotHedgedCostsNothing: a request that is never hedged (not
// idempotent, or its deadline too near) goes straight through, with no
// allocation of the layer's own.
func TestNotHedgedCostsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	post, _ := http.NewRequest("POST", "http://example.test/", nil)
	near, _ := http.NewRequestWithContext(ctx, "GET", "http://example.test/", nil)
	next := instant{watch: true}
	rt := hedge.New(next, hedge.WithDelay(time.Hour))
	for _, req := range []*http.Request{post, near} {
		direct := testing.AllocsPerRun(100, func() { next.RoundTrip(req) })
		hedged := testing.AllocsPerRun(100, func() { rt.RoundTrip(req) })
		if hedged != direct {
			t.Errorf("%s: %v allocations through the layer, %v without", req.Method, hedged, direct)
		}
	}
}

// TestNoHedgeAllocations: a hedgeable request that needs no hedge costs at
// most 2 allocations over a next layer that watches the context (the race,
// which holds the request copy, and the Done channel) when the caller's
// context can never end, and 4 when it can (the race, and the
// context.WithCancelCause that the caller's context then needs: the context,
// its cancel function, its channel). The hedge timer comes from a pool;
// AllocsPerRun rounds down the rare timer a sync.Pool drops. Not parallel:
// AllocsPerRun counts the allocations of every goroutine.
func TestNoHedgeAllocations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get, _ := http.NewRequest("GET", "http://example.test/", nil)
	next := instant{watch: true}
	rt := hedge.New(next, hedge.WithDelay(time.Hour))
	for _, tc := range []struct {
		name string
		req  *http.Request
		max  float64
	}{
		{"background", get, 2},
		{"cancellable", get.WithContext(ctx), 4},
	} {
		roundTrip := func(rt http.RoundTripper) func() {
			return func() {
				resp, err := rt.RoundTrip(tc.req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
		direct := testing.AllocsPerRun(1000, roundTrip(next))
		hedged := testing.AllocsPerRun(1000, roundTrip(rt))
		if hedged-direct > tc.max {
			t.Errorf("%s: %v allocations through the layer, %v without: want at most %v more",
				tc.name, hedged, direct, tc.max)
		}
	}
}
