package bench

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tracing"
)

// costContenders are the three round trippers of the cost comparison: the
// base alone, the standard stack with tracing off (request id, retry with
// its budget, breaker, per-attempt timeouts) and failsafe-go's retry around
// its breaker, all over a transport that answers at once.
func costContenders() [3]http.RoundTripper {
	cfg := Config{Attempts: 4}
	return [3]http.RoundTripper{
		Plain.Wrap(Instant{}, cfg),
		OursStandard.Wrap(Instant{}, cfg),
		FailsafeRetryBreaker.Wrap(Instant{}, cfg),
	}
}

// costBatch is the number of round trips timed together, so that reading
// the clock costs nothing next to them.
const costBatch = 64

// timeBatch returns how long costBatch round trips of req through rt take.
func timeBatch(tb testing.TB, rt http.RoundTripper, req *http.Request) time.Duration {
	start := time.Now()
	for range costBatch {
		if _, err := roundTrip(rt, req); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// addedAllocs returns the allocations per round trip of rt above those of
// the base alone.
func addedAllocs(rts [3]http.RoundTripper) (std, failsafe float64) {
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
	var a [3]float64
	for i, rt := range rts {
		a[i] = testing.AllocsPerRun(1000, func() { _, _ = roundTrip(rt, req) })
	}
	return a[1] - a[0], a[2] - a[0]
}

// BenchmarkCost compares, in one run, what the standard stack adds to a
// round trip with what failsafe-go retry+breaker adds. Every op sends one
// batch through each of the three contenders in turn, so that the three
// share the machine's load; the time added by a contender is the median,
// over the ops, of its batch time minus the base's, per round trip. It
// reports both added times, their ratio (std/failsafe; the goal is below
// 0.5), and the same for allocations.
func BenchmarkCost(b *testing.B) {
	rts := costContenders()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
	var std, fs []float64
	for b.Loop() {
		var d [3]time.Duration
		for i, rt := range rts {
			d[i] = timeBatch(b, rt, req)
		}
		std = append(std, float64(d[1]-d[0])/costBatch)
		fs = append(fs, float64(d[2]-d[0])/costBatch)
	}
	stdNs, fsNs := median(std), median(fs)
	b.ReportMetric(stdNs, "std-added-ns")
	b.ReportMetric(fsNs, "failsafe-added-ns")
	b.ReportMetric(stdNs/fsNs, "ns-ratio")
	stdA, fsA := addedAllocs(rts)
	b.ReportMetric(stdA, "std-added-allocs")
	b.ReportMetric(fsA, "failsafe-added-allocs")
	b.ReportMetric(stdA/fsA, "allocs-ratio")
	b.ReportMetric(0, "ns/op") // an op is three batches: its time means nothing
}

// BenchmarkCostByLayer reports, in one run and by the same method as
// BenchmarkCost, the time each of the standard stack's layers adds alone
// (request id, retry, breaker, per-attempt timeouts), the stack, failsafe-go
// retry+breaker, the same layers stacked by hand (what standard's own
// wrapper costs) and the allocation floor (see allocFloor): where the
// stack's cost comes from, and how low it could go.
func BenchmarkCostByLayer(b *testing.B) {
	cfg := Config{Attempts: 4}
	cs := append([]Contender{Plain}, Ours[:4]...)
	cs = append(cs, OursStandard, handStack, FailsafeRetryBreaker, allocFloor, floorRetryBreaker)
	rts := make([]http.RoundTripper, len(cs))
	for i, c := range cs {
		rts[i] = c.Wrap(Instant{}, cfg)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
	added := make([][]float64, len(cs))
	for b.Loop() {
		base := timeBatch(b, rts[0], req)
		for i := 1; i < len(rts); i++ {
			added[i] = append(added[i], float64(timeBatch(b, rts[i], req)-base)/costBatch)
		}
	}
	for i := 1; i < len(cs); i++ {
		b.ReportMetric(median(added[i]), cs[i].Name+"-added-ns")
	}
	b.ReportMetric(0, "ns/op")
}

// handStack is the standard stack's layers, with its settings, stacked by
// hand with chain.Build: the difference with chain-standard is what the
// Stack's own wrapper and the swaps that let Update replace layers cost.
var handStack = Contender{Name: "chain-hand-stack", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
	return chain.Build(base,
		tracing.RequestID(),
		retry.Middleware(append([]retry.Option{retry.WithBudget(retry.NewBudget())}, retryOptions(cfg)...)...),
		breaker.Middleware(append([]breaker.Option{breaker.WithRetryAfter(standard.DefaultRetryAfter)}, breakerOptions(cfg)...)...),
		timeouts.Middleware(timeouts.WithResponseHeader(standard.DefaultResponseHeader),
			timeouts.WithBodyIdle(standard.DefaultBodyIdle)),
	)
}}

// allocFloor is not a RoundTripper anyone would use: it makes the
// allocations that any stack with a request id header and a per-attempt
// context must make while keeping the RoundTripper contract (the caller's
// request is never modified), and nothing else: no retry, no breaker, no
// bound, no timer. A request id in the header needs a copy of the request
// with a copy of its header map (net/http's Header is a map: two
// allocations, 48 and 352 bytes, for up to 8 keys), and a context carrying
// the id, folded into the copy's allocation; a per-attempt context needs a
// second copy of the request, since retries and hedges resend the first,
// with its context folded in too. Its cost, against failsafe-go's in the
// same run, is the lowest ratio the standard stack could reach.
var allocFloor = Contender{Name: "alloc-floor", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper {
	return floorID{floorAttempt{base}}
}}

// floorRetryBreaker is the allocation floor with the standard stack's
// retry and breaker layers between its two copies, where the stack has
// them: the lowest the standard stack could cost with these two layers as
// they are.
var floorRetryBreaker = Contender{Name: "alloc-floor+retry+breaker", Wrap: func(base http.RoundTripper, cfg Config) http.RoundTripper {
	b := breaker.New(floorAttempt{base}, append([]breaker.Option{breaker.WithRetryAfter(standard.DefaultRetryAfter)}, breakerOptions(cfg)...)...)
	return floorID{retry.New(b, append([]retry.Option{retry.WithBudget(retry.NewBudget())}, retryOptions(cfg)...)...)}
}}

// floorID copies the request with a context and a header map that carry
// an id: the request id layer's floor (384 + 48 + 352 bytes).
type floorID struct{ next http.RoundTripper }

type floorIDCtx struct {
	context.Context
	req   http.Request
	value [1]string
	id    [32]byte
}

func (f floorID) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &floorIDCtx{Context: req.Context()}
	c.id[0] = 'x'
	c.value[0] = string(c.id[:1])
	c.req = *req.WithContext(c)
	c.req.Header = make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		c.req.Header[k] = v
	}
	c.req.Header["X-Request-Id"] = c.value[:]
	return f.next.RoundTrip(&c.req)
}

// floorAttempt copies the request with a context of its own: the
// per-attempt layer's floor (320 bytes).
type floorAttempt struct{ next http.RoundTripper }

type floorAttemptCtx struct {
	context.Context
	req http.Request
}

func (f floorAttempt) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &floorAttemptCtx{Context: req.Context()}
	c.req = *req.WithContext(c)
	return f.next.RoundTrip(&c.req)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestCostAllocs checks the allocation half of the cost goal, which unlike
// time is exact on any machine: the standard stack with tracing off adds
// fewer than half the allocations failsafe-go retry+breaker adds to a round
// trip.
func TestCostAllocs(t *testing.T) {
	std, fs := addedAllocs(costContenders())
	t.Logf("allocations added per round trip: standard %v, failsafe-go retry+breaker %v", std, fs)
	if std >= fs/2 {
		t.Errorf("standard adds %v allocations, want fewer than half of failsafe-go's %v", std, fs)
	}
}
