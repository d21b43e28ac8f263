package rtprobe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
	tt "github.com/rtchain/chain/transporttest"
)

// tailConfig is the "slow tail" scenario: a server that answers one request
// in every (in the order they arrive) after slow and the others after fast,
// sent rate requests per second for duration, open loop (requests start on
// time whatever happened to the earlier ones), each with its own deadline.
// Chain hedges the requests that have no response headers after a delay
// learnt from the host's latency.
//
// The slow responses are evenly spread rather than drawn at random, so that
// a run of a few hundred requests has exactly its share of them and a hedge
// meets a slow response only when it happens to arrive as the count comes
// round: the P99 of both sides does not depend on the luck of the draw. With
// random draws, one hedge in twenty would be slow too; bench/ measures that
// case, over enough requests for it to stay below the P99.
type tailConfig struct {
	every    int           // one response in every is slow
	fast     time.Duration // the time of the others
	slow     time.Duration
	rate     float64
	duration time.Duration
	deadline time.Duration // of each request, generous: no request should reach it
	quantile float64       // of the host's recent latency: the hedge delay
	floor    time.Duration // bounds of the hedge delay; the ceiling is the
	ceiling  time.Duration // delay until the host has enough samples
	ratio    float64       // the retry budget's share of requests
	perSec   float64       // and floor, in extra attempts per second
	maxHits  float64       // server hits per request chain may cost, at most
	mem      bool          // serve on an in-memory network (tests in a synctest bubble)
}

func (c tailConfig) String() string {
	return fmt.Sprintf("a server whose every %dth response takes %v (%.0f %%; the rest %v), sent %.0f requests/s for %v",
		c.every, c.slow, 100/float64(c.every), c.fast, c.rate, c.duration)
}

// describe is the scenario's part of the text above the table.
func (c tailConfig) describe() string {
	return fmt.Sprintf("slow tail: %v;\n"+
		"       plain: net/http alone; chain: chain.Build(net/http, retry.Middleware(), hedge.Middleware()), one hedge\n"+
		"       after the host's recent P%.0f time to headers (within %v..%v; %v from a cold start, until\n"+
		"       the host has 50 samples), retries and hedges sharing one retry.Budget (%.0f %% of requests + %.0f/s);\n"+
		"       hits/req: requests the server received per request sent",
		c, c.quantile*100, c.floor, c.ceiling, c.ceiling, c.ratio*100, c.perSec)
}

// tailFigures are what the slow-tail load gave one client.
type tailFigures struct {
	Sent           int     `json:"sent"`
	OK             int     `json:"ok"`     // 200, body read
	Failed         int     `json:"failed"` // any error or other status
	P50MS          float64 `json:"p50_ms"` // of every request, from RoundTrip to the end of its body
	P99MS          float64 `json:"p99_ms"`
	Hits           int     `json:"hits"` // requests the server received
	HitsPerRequest float64 `json:"hits_per_request"`
	Hedges         int     `json:"hedges"`     // hedges chain sent
	HedgesWon      int     `json:"hedges_won"` // of which answered first
}

func (f *tailFigures) String() string {
	s := fmt.Sprintf("p50 %s, p99 %s, %.2f hits/req", fmtMS(f.P50MS), fmtMS(f.P99MS), f.HitsPerRequest)
	if f.Hedges > 0 {
		s += fmt.Sprintf(" (%d hedges, %d won)", f.Hedges, f.HedgesWon)
	}
	if f.Failed > 0 {
		s += fmt.Sprintf(", %d failed", f.Failed)
	}
	return s
}

// tailCut is what chain must do with the slow tail, compared with plain
// net/http on the same machine at the same time: answer every request, with
// a P99 below the slow time where plain's is at or above it (the 1 % slowest
// of chain's requests did not wait for a slow response), at no more than
// cfg.tail.maxHits server hits per request. The bound is the slow time rather
// than a ratio to plain's P99 because a busy machine that stalls the process
// for a few hundred milliseconds lifts chain's P99 by that much and plain's
// hardly at all; the fake-time test holds the figures themselves.
func tailCut(cfg scenarioConfig, plain, chain outcome) bool {
	p, c := plain.tail, chain.tail
	slow := msf(cfg.tail.slow)
	return p != nil && c != nil && c.Sent > 0 && c.OK == c.Sent &&
		c.P99MS < slow && slow <= p.P99MS && c.HitsPerRequest <= cfg.tail.maxHits
}

// newSlowTail starts the server of c. A request whose client goes away (a
// cancelled hedge or first attempt) is dropped at once, so that a loser costs
// the server nothing more. With c.mem it listens on an in-memory network.
func newSlowTail(c tailConfig) target {
	var seen atomic.Int64
	srv := tt.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := c.fast
		if seen.Add(1)%int64(c.every) == 0 {
			d = c.slow
		}
		if pause(r, d) { // r's context ends when its client goes away, or when the server closes
			io.WriteString(w, "ok")
		}
	}))
	return startOn(srv, c.mem)
}

// hedgeCount is chain's side of the slow tail: the stack, and the hedges its
// hook saw.
type hedgeCount struct {
	http.RoundTripper
	sent, won atomic.Int64
}

func (h *hedgeCount) CloseIdleConnections() { closeIdle(h.RoundTripper) }

// tailTransport is one side: net/http alone, or under chain's retry and
// hedge layers sharing one retry budget (the retry layer counts each request
// in it, each hedge takes a token). The hedge layer sits right on the
// *http.Transport, so it sends hedges through a clone of it: another
// connection pool. Both bases are the same tuned transport, so that only the
// layers differ.
func tailTransport(cfg scenarioConfig, t target, hedged bool) http.RoundTripper {
	base := tunedTransport(t)
	if !hedged {
		return base
	}
	c := cfg.tail
	h := &hedgeCount{}
	budget := retry.NewBudget(retry.WithRatio(c.ratio), retry.WithFloor(c.perSec))
	h.RoundTripper = chain.Build(base,
		retry.Middleware(retry.WithBudget(budget)),
		hedge.Middleware(
			hedge.WithQuantile(c.quantile),
			hedge.WithDelayBounds(c.floor, c.ceiling),
			hedge.WithBudget(budget),
			hedge.WithOnHedge(func(e hedge.Event) {
				if e.Won {
					h.won.Add(1)
				} else {
					h.sent.Add(1)
				}
			}),
		),
	)
	return h
}

// driveTail sends c's load to t through rt and returns the figures, with the
// server hits counted when the last request has ended. It takes duration +
// deadline at most.
func driveTail(ctx context.Context, c tailConfig, rt http.RoundTripper, t target) *tailFigures {
	var mu sync.Mutex
	f := &tailFigures{}
	var lat []time.Duration
	openLoop(ctx, rt, t.url, c.rate, c.duration, c.deadline, func(d time.Duration, status int, err error) {
		mu.Lock()
		defer mu.Unlock()
		f.Sent++
		lat = append(lat, d)
		if err == nil && status == http.StatusOK {
			f.OK++
		} else {
			f.Failed++
		}
	})
	slices.Sort(lat)
	f.P50MS, f.P99MS = msf(percentile(lat, 50)), msf(percentile(lat, 99))
	f.Hits = t.hits()
	if f.Sent > 0 {
		f.HitsPerRequest = float64(f.Hits) / float64(f.Sent)
	}
	if h, ok := rt.(*hedgeCount); ok {
		f.Hedges, f.HedgesWon = int(h.sent.Load()), int(h.won.Load())
	}
	return f
}
