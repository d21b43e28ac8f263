package rtprobe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
	tt "github.com/rtchain/chain/transporttest"
)

// overloadConfig is the "overloaded host" scenario: a server of a few
// workers whose latency grows with the number of requests it holds, warmed
// at half its capacity, then offered twice its capacity, open loop (requests
// start on time whatever happened to the earlier ones, as users arrive),
// each with its own deadline.
type overloadConfig struct {
	workers  int           // requests the server works on at once
	service  time.Duration // time per request: capacity is workers/service
	warmRate float64       // requests per second while warming (not counted)
	warm     time.Duration
	rate     float64 // requests per second under overload (counted)
	duration time.Duration
	deadline time.Duration // of each request
	mem      bool          // serve on an in-memory network (tests in a synctest bubble)
}

// capacity is the server's throughput, in requests per second.
func (o overloadConfig) capacity() float64 { return float64(o.workers) / o.service.Seconds() }

func (o overloadConfig) String() string {
	return fmt.Sprintf("a server of %d workers × %v (%.0f requests/s at most), offered %.0f/s for %v after %v at %.0f/s; deadline %v per request",
		o.workers, o.service, o.capacity(), o.rate, o.duration, o.warm, o.warmRate, o.deadline)
}

// loadFigures are what an open-loop load gave in its counted period.
type loadFigures struct {
	Sent     int     `json:"sent"`
	OK       int     `json:"ok"`              // 200, body read, within the deadline
	Shed     int     `json:"shed"`            // rejected by the limit, not sent
	Timeouts int     `json:"timeouts"`        // the deadline expired
	Failed   int     `json:"failed"`          // any other error or status
	Goodput  float64 `json:"goodput"`         // OK per second
	P99MS    float64 `json:"p99_ms"`          // of the OK requests
	Limit    int     `json:"limit,omitempty"` // the adaptive limit at the end
}

func (f *loadFigures) String() string {
	s := fmt.Sprintf("%.0f ok/s, p99 %s, %d timeouts", f.Goodput, fmtMS(f.P99MS), f.Timeouts)
	if f.Shed > 0 {
		s += fmt.Sprintf(", %d shed", f.Shed)
	}
	if f.Limit > 0 {
		s += fmt.Sprintf(" (limit %d)", f.Limit)
	}
	return s
}

// newOverloaded starts a server whose requests queue for one of o.workers
// workers, each taking o.service to answer; like many real servers it does
// not notice a client that gave up, so a queued request still costs a
// worker's time when its turn comes (its handler ends early only when the
// server closes). With o.mem it listens on an in-memory network.
func newOverloaded(o overloadConfig) target {
	sem := make(chan struct{}, o.workers)
	closing := make(chan struct{})
	srv := tt.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case sem <- struct{}{}:
		case <-closing:
			return
		}
		defer func() { <-sem }()
		t := time.NewTimer(o.service)
		defer t.Stop()
		select {
		case <-t.C:
		case <-closing:
			return
		}
		io.WriteString(w, "ok")
	}))
	t := startOn(srv, o.mem)
	t.close = func() {
		close(closing)
		srv.Close()
	}
	return t
}

// startOn starts srv on a loopback port or, with mem, on an in-memory
// network, and returns it as a target.
func startOn(srv *tt.Server, mem bool) target {
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if mem {
		ml := tt.NewMemListener()
		srv.Listener, dial = ml, ml.DialContext
	}
	srv.Start()
	t := fromServer(srv)
	t.dial = dial
	return t
}

// tunedTransport is the base of both sides of the load scenarios: a clone of
// http.DefaultTransport that keeps enough idle connections for the load and
// dials t's network.
func tunedTransport(t target) *http.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 256
	if t.dial != nil {
		base.DialContext = t.dial
	}
	return base
}

// overloadTransport is one side: net/http alone, or under chain's adaptive
// limit. Both bases are the same tuned *http.Transport, so that only the
// limit differs.
func overloadTransport(_ scenarioConfig, t target, withLimit bool) http.RoundTripper {
	base := tunedTransport(t)
	if !withLimit {
		return base
	}
	return chain.Build(base, limit.Middleware())
}

// driveOverload runs cfg's load on url through rt and returns the figures of
// the counted period. It takes warm + duration + deadline at most.
func driveOverload(ctx context.Context, o overloadConfig, rt http.RoundTripper, url string) *loadFigures {
	openLoop(ctx, rt, url, o.warmRate, o.warm, o.deadline, nil)
	var mu sync.Mutex
	f := &loadFigures{}
	var okLat []time.Duration
	openLoop(ctx, rt, url, o.rate, o.duration, o.deadline, func(d time.Duration, status int, err error) {
		mu.Lock()
		defer mu.Unlock()
		f.Sent++
		switch class := errclass.Classify(err); {
		case err == nil && status == http.StatusOK:
			f.OK++
			okLat = append(okLat, d)
		case class == errclass.Limited:
			f.Shed++
		case class == errclass.Timeout:
			f.Timeouts++
		default:
			f.Failed++
		}
	})
	f.Goodput = float64(f.OK) / o.duration.Seconds()
	if len(okLat) > 0 {
		slices.Sort(okLat)
		f.P99MS = msf(percentile(okLat, 99))
	}
	if lt, ok := rt.(*limit.Transport); ok {
		for _, k := range lt.Keys() {
			f.Limit = lt.Stats(k).Limit
		}
	}
	return f
}

// openLoop starts rate requests per second for d, each on its own goroutine
// with its own deadline, and waits for them all; done, if not nil, gets each
// one's latency and outcome.
func openLoop(ctx context.Context, rt http.RoundTripper, url string, rate float64, d, deadline time.Duration, done func(time.Duration, int, error)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := range int(rate * d.Seconds()) {
		t := time.NewTimer(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
			t0 := time.Now()
			status, err := getAll(rt, req)
			if done != nil {
				done(time.Since(t0), status, err)
			}
		})
	}
}

// getAll sends req, reads the body to its end and closes it.
func getAll(rt http.RoundTripper, req *http.Request) (int, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
