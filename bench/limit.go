package bench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/failsafehttp"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
)

// Limiter is one concurrency limiter (or none) in a given configuration.
type Limiter struct {
	// Name is the sub-benchmark name.
	Name string
	// Wrap builds the limiter over base, the transport that really sends.
	Wrap func(base http.RoundTripper) http.RoundTripper
}

// NoLimit is net/http alone.
var NoLimit = Limiter{Name: "nethttp", Wrap: func(base http.RoundTripper) http.RoundTripper { return base }}

// ChainFixed is chain's limit with a fixed limit of n per host.
func ChainFixed(n int) Limiter {
	return Limiter{Name: "chain-fixed-" + strconv.Itoa(n), Wrap: func(base http.RoundTripper) http.RoundTripper {
		return limit.New(base, limit.WithMaxInFlight(n))
	}}
}

// ChainAdaptive is chain's limit with its default, adaptive limit.
var ChainAdaptive = Limiter{Name: "chain-adaptive", Wrap: func(base http.RoundTripper) http.RoundTripper {
	return limit.New(base)
}}

// FailsafeBulkhead is failsafe-go's bulkhead of n permits through
// failsafehttp. Its permit is released when RoundTrip returns, not when the
// response body ends, and it is one bulkhead for all hosts.
func FailsafeBulkhead(n int) Limiter {
	return Limiter{Name: "failsafe-bulkhead-" + strconv.Itoa(n), Wrap: func(base http.RoundTripper) http.RoundTripper {
		return failsafehttp.NewRoundTripper(base, bulkhead.New[*http.Response](uint(n)))
	}}
}

// FailsafeAdaptive is failsafe-go's adaptivelimiter with its defaults
// (limits 1 to 200, starting at 20) through failsafehttp, released when
// RoundTrip returns; one limiter for all hosts.
var FailsafeAdaptive = Limiter{Name: "failsafe-adaptivelimiter", Wrap: func(base http.RoundTripper) http.RoundTripper {
	return failsafehttp.NewRoundTripper(base, adaptivelimiter.NewWithDefaults[*http.Response]())
}}

// NewOverloaded is a server with workers workers, each taking service to
// answer a request; requests beyond the workers queue for one, so latency
// grows with the server's concurrency and its throughput is at most
// workers/service. Like many real servers it does not notice that a client
// gave up: a queued request still takes a worker's time when its turn comes
// (wasted work), until the server is closed.
func NewOverloaded(workers int, service time.Duration) *Server {
	sem := make(chan struct{}, workers)
	return newServer(func(s *Server, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case sem <- struct{}{}:
		case <-s.stop:
			return
		}
		defer func() { <-sem }()
		select {
		case <-time.After(service):
		case <-s.stop:
			return
		}
		w.Write([]byte("ok"))
	})
}

// Plan is an open-loop load: requests start at Rate per second whatever
// happens to the earlier ones (as users arrive), for Duration, after a warm
// period at WarmRate for Warm. Each request has its own deadline, Timeout.
type Plan struct {
	WarmRate float64
	Warm     time.Duration
	Rate     float64
	Duration time.Duration
	Timeout  time.Duration
}

// Result is what a Plan's loaded period gave (the warm period is not
// counted).
type Result struct {
	Sent    int           // requests started
	OK      int           // 200 with the body read, within the deadline
	Shed    int           // rejected by a limiter without being sent
	Timeout int           // deadline exceeded
	Failed  int           // any other error
	Goodput float64       // OK per second of the loaded period
	P50     time.Duration // latency of the OK requests
	P99     time.Duration
	P99All  time.Duration // latency of every request, shed ones included
}

// Run runs p against url through rt and returns the loaded period's result.
// It takes Warm + Duration + Timeout at most.
func Run(rt http.RoundTripper, url string, p Plan) Result {
	run(rt, url, p.WarmRate, p.Warm, p.Timeout, nil)
	var mu sync.Mutex
	var r Result
	var okLat, allLat []time.Duration
	run(rt, url, p.Rate, p.Duration, p.Timeout, func(d time.Duration, status int, err error) {
		mu.Lock()
		defer mu.Unlock()
		r.Sent++
		allLat = append(allLat, d)
		var le *limit.Error
		switch {
		case err == nil && status == http.StatusOK:
			r.OK++
			okLat = append(okLat, d)
		case errors.As(err, &le) || errors.Is(err, bulkhead.ErrFull) || errors.Is(err, adaptivelimiter.ErrExceeded):
			r.Shed++
		case errclass.Classify(err) == errclass.Timeout:
			r.Timeout++
		default:
			r.Failed++
		}
	})
	r.Goodput = float64(r.OK) / p.Duration.Seconds()
	r.P50, r.P99 = quantile(okLat, 0.5), quantile(okLat, 0.99)
	r.P99All = quantile(allLat, 0.99)
	return r
}

// run starts requests at rate per second for d, each on its own goroutine
// with a deadline of timeout, and waits for all of them; done (if not nil)
// gets each one's latency and outcome.
func run(rt http.RoundTripper, url string, rate float64, d, timeout time.Duration, done func(time.Duration, int, error)) {
	if rate <= 0 || d <= 0 {
		return
	}
	var wg sync.WaitGroup
	start := time.Now()
	n := int(rate * d.Seconds())
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			t0 := time.Now()
			status, err := roundTripRead(rt, req)
			if done != nil {
				done(time.Since(t0), status, err)
			}
		})
	}
	wg.Wait()
}

// roundTripRead sends req, reads and closes the body, and returns the
// status and the first error.
func roundTripRead(rt http.RoundTripper, req *http.Request) (int, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// quantile returns the q-quantile of ds (nearest rank), 0 for none.
