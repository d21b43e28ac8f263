package bench

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtchain/chain"
)

var (
	soakLong   = flag.Bool("soak.long", false, "run the recorded soak (100,000 requests) instead of the short one")
	soakN      = flag.Int("soak.requests", 0, "override the number of requests of the soak")
	soakRotate = flag.Duration("soak.rotate", 0, "override the period of certificate rotations of the soak")
)

// TestSoak drives the short soak (or the long one with -soak.long) through
// standard.Client against faulty loopback servers. It fails on any hang,
// unclassified outcome, leaked goroutine, connection or response body, heap
// growth, and on any outcome outside its scenario's allowed classes and
// phases, and on any error that does not match the sentinel of its class
// (errors.Is(err, errclass.ErrNetwork) for a reset or a refused dial).
func TestSoak(t *testing.T) {
	cfg := ShortSoak
	if *soakLong {
		cfg = LongSoak
	}
	if *soakN > 0 {
		cfg.Requests = *soakN
	}
	if *soakRotate > 0 {
		cfg.RotateEvery = *soakRotate
	}
	cfg.Logf = t.Logf
	rep, err := Soak(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report:\n%s", rep)
	if rep.Requests != cfg.Requests {
		t.Errorf("%d outcomes recorded for %d requests", rep.Requests, cfg.Requests)
	}
	for _, p := range rep.Problems {
		t.Error(p)
	}
	for _, c := range rep.Classes {
		t.Error(c)
	}
	for _, s := range rep.Sentinels {
		t.Error(s)
	}
}

// TestSoakCatchesFaultyLayers checks that the harness itself can fail: each
// subtest wraps the stack in a layer with one defect and expects the soak
// to report it.
func TestSoakCatchesFaultyLayers(t *testing.T) {
	tiny := ShortSoak
	tiny.Requests, tiny.Workers, tiny.Checkpoints = 400, 16, 2
	tiny.HeaderBound, tiny.BodyIdle = 300*time.Millisecond, 300*time.Millisecond
	var held [][]byte // what the hoarding layer keeps, released at the end
	defer func() { held = nil }()
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	var leaked []io.Closer // the bodies the leaking layer left open
	defer func() {
		for _, b := range leaked {
			b.Close()
		}
	}()
	cases := []struct {
		name, want string
		wrap       func(http.RoundTripper) http.RoundTripper
	}{
		{"unclassified error", "unclassified", func(next http.RoundTripper) http.RoundTripper {
			return chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				if strings.Contains(req.URL.Path, "/trickle/") {
					return nil, errors.New("soak test: an error no class describes")
				}
				return next.RoundTrip(req)
			})
		}},
		{"body never closed", "connection leak", func(next http.RoundTripper) http.RoundTripper {
			return chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				if !strings.Contains(req.URL.Path, "/none/") {
					return next.RoundTrip(req)
				}
				// Cut from the caller's context (whose end would make
				// net/http close the connection), read one byte, never close.
				resp, err := next.RoundTrip(req.WithContext(context.WithoutCancel(req.Context())))
				if err == nil {
					mu.Lock()
					leaked = append(leaked, resp.Body) // closed after the soak
					mu.Unlock()
					resp.Body = io.NopCloser(io.LimitReader(resp.Body, 1))
				}
				return resp, err
			})
		}},
		{"goroutine per request", "goroutine leak", func(next http.RoundTripper) http.RoundTripper {
			return chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				go func() { <-release }()
				return next.RoundTrip(req)
			})
		}},
		{"memory per request", "heap growth", func(next http.RoundTripper) http.RoundTripper {
			return chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				mu.Lock()
				held = append(held, make([]byte, 64<<10))
				mu.Unlock()
				return next.RoundTrip(req)
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := tiny
			cfg.Wrap = c.wrap
			rep, err := Soak(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts[c.want] == 0 {
				t.Errorf("the soak did not report %q; it reported %v:\n%s", c.want, rep.Problems, rep)
			}
		})
	}
}

// TestSoakLatencyHist checks the soak's latency histogram: quantiles within
// a bucket (2.3 %) of the exact ones, never below them, and merged
// histograms equal to one fed with every sample.
func TestSoakLatencyHist(t *testing.T) {
	var a, b, all latencyHist
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		all.add(d)
		if i%2 == 0 {
			a.add(d)
		} else {
			b.add(d)
		}
	}
	a.merge(&b)
	if a != all {
		t.Fatal("merged histogram differs from the one fed with every sample")
	}
	for _, c := range []struct {
		q     float64
		exact time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := a.quantile(c.q)
		if got < c.exact || float64(got) > float64(c.exact)*1.024 {
			t.Errorf("quantile(%v) = %v, want within [%v, +2.4%%]", c.q, got, c.exact)
		}
	}
	var empty latencyHist
	if q := empty.quantile(0.5); q != 0 {
		t.Errorf("empty quantile = %v, want 0", q)
	}
}
