package bench

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
)

// NewSlowTail answers every request with 200 after about fast, except a
// random share of them (from a fixed seed) that take slow: a server with a
// tail. A request whose client goes away is dropped at once, so a cancelled
// hedge or first attempt costs the server nothing more.
func NewSlowTail(share float64, fast, slow time.Duration, seed uint64) *Server {
	var mu sync.Mutex // guards rng
	rng := rand.New(rand.NewPCG(seed, seed))
	return newServer(func(s *Server, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := fast
		if rng.Float64() < share {
			d = slow
		}
		mu.Unlock()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		}
		w.Write([]byte("ok"))
	})
}

// HedgeContender is a hedging contender: Wrap builds it over base, a
// transport of its own.
type HedgeContender struct {
	Name string
	Wrap func(base *http.Transport) http.RoundTripper
}

// HedgeDelay is the fixed delay of the fixed-delay contenders: between the
// fast mode (about 1 ms) and the slow one (1 s) of the slow-tail scenario.
const HedgeDelay = 25 * time.Millisecond

// HedgeContenders are net/http alone, chain's hedge layer and failsafe-go's
// hedgepolicy (through failsafehttp), each unbudgeted with one hedge at most,
// with a fixed delay or a delay from the 90th percentile of recent latencies
// (P95 would sit on the edge of a 5 % slow mode). chain-retry+hedge-q90 is the
// standard placement: retry above hedge, one shared budget (ratio 0.1, floor
// 10 per second).
var HedgeContenders = []HedgeContender{
	{Name: "nethttp", Wrap: func(base *http.Transport) http.RoundTripper { return base }},
	{Name: "chain-hedge-fixed", Wrap: func(base *http.Transport) http.RoundTripper {
		return hedge.New(base, hedge.WithDelay(HedgeDelay))
	}},
	{Name: "chain-hedge-q90", Wrap: func(base *http.Transport) http.RoundTripper {
		return hedge.New(base, hedge.WithQuantile(0.9))
	}},
	{Name: "chain-retry+hedge-q90", Wrap: func(base *http.Transport) http.RoundTripper {
		b := retry.NewBudget()
		return retry.New(hedge.New(base, hedge.WithQuantile(0.9), hedge.WithBudget(b)), retry.WithBudget(b))
	}},
	{Name: "failsafe-hedge-fixed", Wrap: func(base *http.Transport) http.RoundTripper {
		return failsafehttp.NewRoundTripper(base, hedgepolicy.NewWithDelay[*http.Response](HedgeDelay))
	}},
	{Name: "failsafe-hedge-q90", Wrap: func(base *http.Transport) http.RoundTripper {
		// Remember about the last 500 executions; hedge from the 50th on,
		// as chain's sketch does.
		return failsafehttp.NewRoundTripper(base, hedgepolicy.NewWithDelayQuantile[*http.Response](0.9, 500, 50))
	}},
}

// TailStats are the latencies of a run of requests and the server hits they
// cost.
type TailStats struct {
	Requests int
	Failed   int
	Hits     int64
	P50      time.Duration
	P99      time.Duration
	P999     time.Duration
}

// HitsPerRequest returns the server hits per request.
func (s TailStats) HitsPerRequest() float64 { return float64(s.Hits) / float64(s.Requests) }

// RunTail sends n GETs to srv through rt, one every interval whatever the
// answers (an open loop, so that a contender that frees its callers sooner
// does not send more load than one that keeps them waiting), each timed from
// RoundTrip to the end of its body, and returns the latency percentiles and
// the server hits. It resets srv's hit count first and returns when every
// request has ended.
func RunTail(ctx context.Context, rt http.RoundTripper, srv *Server, n int, interval time.Duration) TailStats {
	srv.ResetHits()
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lat[i] = time.Since(start)
			if err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return TailStats{
		Requests: n,
		Failed:   int(failed.Load()),
		Hits:     srv.Hits(),
		P50:      quantile(lat, 0.5),
		P99:      quantile(lat, 0.99),
		P999:     quantile(lat, 0.999),
	}
}
