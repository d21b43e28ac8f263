package bench

import (
	"net/http"
	"testing"
	"time"
)

// limiters are the limiters compared below the limit, each alone over the
// base: a fixed limit of 100 (never reached) and the adaptive defaults.
func limiters() []Limiter {
	return []Limiter{NoLimit, ChainFixed(100), ChainAdaptive, FailsafeBulkhead(100), FailsafeAdaptive}
}

// BenchmarkLimitOverhead measures what each limiter adds to one round trip
// below its limit, over a transport that answers at once.
func BenchmarkLimitOverhead(b *testing.B) {
	for _, l := range limiters() {
		b.Run(l.Name, func(b *testing.B) {
			rt := l.Wrap(Instant{})
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := roundTrip(rt, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// overload is the overload scenario: a server of 4 workers taking 20 ms each
// (200 requests per second at most), warmed at half its capacity for a
// second, then offered twice its capacity for 3 s; each request has a
// 250 ms deadline.
var overload = Plan{WarmRate: 100, Warm: time.Second, Rate: 400, Duration: 3 * time.Second, Timeout: 250 * time.Millisecond}

const (
	overloadWorkers = 4
	overloadService = 20 * time.Millisecond
)

func overloadLimiters() []Limiter {
	return []Limiter{NoLimit, ChainFixed(8), ChainFixed(64), ChainAdaptive, FailsafeBulkhead(8), FailsafeAdaptive}
}

// BenchmarkOverload runs the overload scenario once per op through each
// limiter, on a fresh server and transport, and reports goodput (requests
// answered 200 within their deadline, per second), the latency of those
// (P50, P99), and the shares shed by the limiter and timed out.
func BenchmarkOverload(b *testing.B) {
	for _, l := range overloadLimiters() {
		b.Run(l.Name, func(b *testing.B) {
			var r Result
			for b.Loop() {
				r = runOverload(l, overload)
			}
			b.ReportMetric(r.Goodput, "ok/s")
			b.ReportMetric(float64(r.P50)/1e6, "p50-ms")
			b.ReportMetric(float64(r.P99)/1e6, "p99-ms")
			b.ReportMetric(float64(r.Shed)/float64(r.Sent), "shed-ratio")
			b.ReportMetric(float64(r.Timeout)/float64(r.Sent), "timeout-ratio")
		})
	}
}

func runOverload(l Limiter, p Plan) Result {
	srv := NewOverloaded(overloadWorkers, overloadService)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1000}
	defer tr.CloseIdleConnections()
	return Run(l.Wrap(tr), srv.URL, p)
}

// The harness: every limiter passes a request through below its limit.
func TestLimitersSucceed(t *testing.T) {
	srv := NewOK()
	defer srv.Close()
	for _, l := range append(limiters(), overloadLimiters()...) {
		tr := newTransport()
		status, err := roundTrip(l.Wrap(tr), mustGet(t, srv.URL))
		tr.CloseIdleConnections()
		if err != nil || status != http.StatusOK {
			t.Errorf("%s: status %d, error %v", l.Name, status, err)
		}
	}
}

// The harness: the overloaded server's latency grows with its concurrency,
// and a short overload without a limit times requests out while a fixed
// limit sheds them instead. Bounded: about a second.
func TestOverloadScenario(t *testing.T) {
	short := Plan{Rate: 400, Duration: 300 * time.Millisecond, Timeout: 100 * time.Millisecond}
	none := runOverload(NoLimit, short)
	fixed := runOverload(ChainFixed(4), short)
	t.Logf("no limit: %+v", none)
	t.Logf("fixed 4: %+v", fixed)
	if none.Sent != 120 || fixed.Sent != 120 {
		t.Fatalf("sent %d and %d requests, want 120 each", none.Sent, fixed.Sent)
	}
	if none.Timeout == 0 || none.Shed != 0 {
		t.Errorf("without a limit: %d timeouts, %d shed; want timeouts and nothing shed", none.Timeout, none.Shed)
	}
	if fixed.Shed == 0 || fixed.OK == 0 {
		t.Errorf("with a fixed limit: %d shed, %d ok; want both", fixed.Shed, fixed.OK)
	}
}

func mustGet(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
