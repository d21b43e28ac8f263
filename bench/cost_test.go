package bench

import (
	"net/http"
	"slices"
	"testing"
	"time"
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
// (request id, retry, breaker, per-attempt timeouts), the stack, and
// failsafe-go retry+breaker: where the stack's cost comes from.
func BenchmarkCostByLayer(b *testing.B) {
	cfg := Config{Attempts: 4}
	cs := append([]Contender{Plain}, Ours[:4]...)
	cs = append(cs, OursStandard, FailsafeRetryBreaker)
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
