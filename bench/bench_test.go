package bench

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// resilient is the configuration of the resilience scenarios: four attempts,
// short waits so that a run stays quick, a breaker that trips at 50% over
// 20 calls and stays open for longer than a benchmark runs.
var resilient = Config{
	Attempts:           4,
	Backoff:            time.Millisecond,
	MaxBackoff:         10 * time.Millisecond,
	BreakerMinRequests: 20,
	BreakerOpen:        30 * time.Second,
}

func overheadContenders() []Contender {
	cs := []Contender{Plain}
	cs = append(cs, Ours...)
	cs = append(cs, OursStandard)
	cs = append(cs, RetryPeers...)
	cs = append(cs, BreakerPeers...)
	cs = append(cs, FailsafeRetryBreaker, OtelHTTP)
	return cs
}

func resilienceContenders() []Contender {
	cs := []Contender{Plain, OursStandard, Ours[0]}
	cs = append(cs, RetryPeers...)
	cs = append(cs, FailsafeRetryBreaker)
	cs = append(cs, BreakerPeers[0])
	return cs
}

// roundTrip sends req through rt, reads and closes any response body and
// returns the status (0 when RoundTrip failed) and the error of RoundTrip or,
// failing that, of reading the body.
func roundTrip(rt http.RoundTripper, req *http.Request) (int, error) {
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		_, rerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && rerr != nil {
			return resp.StatusCode, rerr
		}
	}
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100}
}

// BenchmarkOverhead measures what each contender adds to one round trip over
// a transport that answers at once.
func BenchmarkOverhead(b *testing.B) {
	cfg := Config{Attempts: 4}
	for _, c := range overheadContenders() {
		b.Run(c.Name, func(b *testing.B) {
			rt := c.Wrap(Instant{}, cfg)
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

// BenchmarkLoopback measures a GET to a loopback server through each
// contender, serially and from parallel goroutines.
func BenchmarkLoopback(b *testing.B) {
	srv := NewOK()
	defer srv.Close()
	cfg := Config{Attempts: 4}
	for _, c := range overheadContenders() {
		b.Run(c.Name+"/serial", func(b *testing.B) {
			tr := newTransport()
			defer tr.CloseIdleConnections()
			rt := c.Wrap(tr, cfg)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := roundTrip(rt, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name+"/parallel", func(b *testing.B) {
			tr := newTransport()
			defer tr.CloseIdleConnections()
			rt := c.Wrap(tr, cfg)
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				for pb.Next() {
					if _, err := roundTrip(rt, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// batch is the number of logical requests in one op of the resilience
// scenarios; each op builds a fresh stack, so breakers start closed.
const batch = 100

// runBatch sends batch GETs to url through a new stack from c and returns
// how many ended with a 2xx.
func runBatch(c Contender, cfg Config, url string) (ok int) {
	tr := newTransport()
	defer tr.CloseIdleConnections()
	rt := c.Wrap(tr, cfg)
	for range batch {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if status, err := roundTrip(rt, req); err == nil && status < 300 {
			ok++
		}
	}
	return ok
}

// BenchmarkOutage counts the server hits per logical request when the server
// answers 503 to everything.
func BenchmarkOutage(b *testing.B) {
	srv := NewOutage()
	defer srv.Close()
	for _, c := range resilienceContenders() {
		b.Run(c.Name, func(b *testing.B) {
			srv.ResetHits()
			n := 0
			for b.Loop() {
				runBatch(c, resilient, srv.URL)
				n += batch
			}
			b.ReportMetric(float64(srv.Hits())/float64(n), "hits/req")
		})
	}
}

// BenchmarkFlaky503 measures the success ratio and the server hits per
// logical request when 20% of the answers, drawn at random, are 503.
func BenchmarkFlaky503(b *testing.B) {
	srv := NewFlaky(0.2, 1)
	defer srv.Close()
	for _, c := range resilienceContenders() {
		b.Run(c.Name, func(b *testing.B) {
			srv.ResetHits()
			n, ok := 0, 0
			for b.Loop() {
				ok += runBatch(c, resilient, srv.URL)
				n += batch
			}
			b.ReportMetric(float64(ok)/float64(n), "ok-ratio")
			b.ReportMetric(float64(srv.Hits())/float64(n), "hits/req")
		})
	}
}

// callerBound is how long the caller waits before giving up in the
// time-to-fail scenarios: a contender without a suitable bound shows it.
const callerBound = 2 * time.Second

// BenchmarkTimeToFail measures how long a GET takes to fail against a server
// that never sends its headers, and one that stalls in the middle of the body,
// with a 300 ms per-attempt (or idle) bound where the library has one and the
// caller's own 2 s deadline over everything.
func BenchmarkTimeToFail(b *testing.B) {
	cfg := resilient
	cfg.AttemptTimeout = 300 * time.Millisecond
	cases := []struct {
		name string
		srv  func() *Server
	}{
		{"slow-header", NewSlowHeader},
		{"stalled-body", NewStalledBody},
	}
	for _, tc := range cases {
		srv := tc.srv()
		for _, c := range resilienceContenders() {
			b.Run(tc.name+"/"+c.Name, func(b *testing.B) {
				tr := newTransport()
				defer tr.CloseIdleConnections()
				rt := c.Wrap(tr, cfg)
				var total time.Duration
				var bounded int
				for b.Loop() {
					ctx, cancel := context.WithTimeout(context.Background(), callerBound)
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
					start := time.Now()
					_, err := roundTrip(rt, req)
					total += time.Since(start)
					if err == nil {
						b.Fatal("request succeeded, want a failure")
					}
					if ctx.Err() != nil {
						bounded++
					}
					cancel()
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-fail")
				b.ReportMetric(float64(bounded)/float64(b.N), "hit-caller-bound")
			})
		}
		srv.Close()
	}
}

// uploadSize is the body of the retried PUT.
const uploadSize = 64 << 20

// BenchmarkRetriedUpload64MiB sends a 64 MiB PUT whose first attempt gets a
// 503 after the server read the whole body, so the body is sent twice, and
// reports the peak growth of the heap while it runs.
func BenchmarkRetriedUpload64MiB(b *testing.B) {
	srv := NewFailFirstUpload()
	defer srv.Close()
	cfg := resilient
	for _, c := range resilienceContenders() {
		if c.Name == Plain.Name || c.Name == BreakerPeers[0].Name {
			continue // no retry: nothing to measure
		}
		b.Run(c.Name, func(b *testing.B) {
			tr := newTransport()
			defer tr.CloseIdleConnections()
			rt := c.Wrap(tr, cfg)
			var peak uint64
			b.ReportAllocs()
			for b.Loop() {
				srv.ResetHits()
				var status int
				var err error
				p := HeapPeak(func() {
					status, err = roundTrip(rt, NewUpload(context.Background(), srv.URL, uploadSize))
				})
				if err != nil || status != http.StatusOK || srv.Hits() != 2 {
					b.Fatalf("got status %d, err %v, %d hits; want 200 after 2 hits", status, err, srv.Hits())
				}
				peak = max(peak, p)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-extra-MiB")
		})
	}
}

// TestContendersSucceed checks the harness: every contender gets a 200 from
// the loopback server and from the instant transport.
func TestContendersSucceed(t *testing.T) {
	srv := NewOK()
	defer srv.Close()
	for _, c := range overheadContenders() {
		t.Run(c.Name, func(t *testing.T) {
			tr := newTransport()
			defer tr.CloseIdleConnections()
			for _, base := range []http.RoundTripper{tr, Instant{}} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				status, err := roundTrip(c.Wrap(base, Config{Attempts: 2}), req)
				if err != nil || status != http.StatusOK {
					t.Fatalf("got %d, %v; want 200", status, err)
				}
			}
		})
	}
}

// TestPattern checks that the streaming body yields exactly n bytes.
func TestPattern(t *testing.T) {
	n, err := io.Copy(io.Discard, NewPattern(1<<20+3))
	if err != nil || n != 1<<20+3 {
		t.Fatalf("got %d, %v; want %d bytes", n, err, 1<<20+3)
	}
}

// TestOutageHitsRetryPeers checks the outage fixture counts every attempt.
func TestOutageHitsRetryPeers(t *testing.T) {
	srv := NewOutage()
	defer srv.Close()
	cfg := resilient
	runBatch(RetryPeers[0], cfg, srv.URL)
	if got, want := srv.Hits(), int64(batch*cfg.Attempts); got != want {
		t.Fatalf("got %d hits, want %d", got, want)
	}
}
