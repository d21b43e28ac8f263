package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSlowTail sends 2,000 GETs (one op), one every 4 ms, to a
// loopback server that answers 5 % of requests after 1 s and the others
// after 1 ms, through each hedging contender, and reports the latency
// percentiles (from RoundTrip to the end of the body) and the server hits
// per request, averaged over the ops run. Run it with -benchtime=1x: the
// contenders that learn their delay start each op warmer than the last.
func BenchmarkSlowTail(b *testing.B) {
	srv := NewSlowTail(0.05, time.Millisecond, time.Second, 1)
	defer srv.Close()
	for _, c := range HedgeContenders {
		b.Run(c.Name, func(b *testing.B) {
			base := newTransport()
			rt := c.Wrap(base)
			defer base.CloseIdleConnections()
			defer closeIdle(rt) // and the pools it made for hedges
			var sum TailStats
			runs := 0
			for b.Loop() {
				s := RunTail(context.Background(), rt, srv, 2000, 4*time.Millisecond)
				if s.Failed > 0 {
					b.Fatalf("%d of %d requests failed", s.Failed, s.Requests)
				}
				sum.Requests += s.Requests
				sum.Hits += s.Hits
				sum.P50 += s.P50
				sum.P99 += s.P99
				sum.P999 += s.P999
				runs++
			}
			ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(runs) }
			b.ReportMetric(ms(sum.P50), "p50-ms")
			b.ReportMetric(ms(sum.P99), "p99-ms")
			b.ReportMetric(ms(sum.P999), "p99.9-ms")
			b.ReportMetric(sum.HitsPerRequest(), "hits/req")
		})
	}
}

// TestSlowTailHarness checks the scenario's pieces on a small scale: the
// server's tail is where it should be, and every contender answers every
// request without hitting the server more than twice per request.
func TestSlowTailHarness(t *testing.T) {
	srv := NewSlowTail(0.2, 0, 100*time.Millisecond, 7)
	defer srv.Close()
	for _, c := range HedgeContenders {
		t.Run(c.Name, func(t *testing.T) {
			base := newTransport()
			rt := c.Wrap(base)
			defer base.CloseIdleConnections()
			defer closeIdle(rt) // and the pools it made for hedges
			s := RunTail(t.Context(), rt, srv, 100, 2*time.Millisecond)
			if s.Failed > 0 {
				t.Fatalf("%d of %d requests failed", s.Failed, s.Requests)
			}
			if s.Hits < int64(s.Requests) || s.Hits > 2*int64(s.Requests) {
				t.Errorf("%d server hits for %d requests", s.Hits, s.Requests)
			}
			if c.Name == "nethttp" {
				if s.Hits != int64(s.Requests) {
					t.Errorf("nethttp: %d hits for %d requests, want one each", s.Hits, s.Requests)
				}
				if s.P50 >= 100*time.Millisecond || s.P99 < 100*time.Millisecond {
					t.Errorf("nethttp: P50 %v, P99 %v: want the fast mode at P50 and the 100ms tail at P99", s.P50, s.P99)
				}
			}
		})
	}
}
