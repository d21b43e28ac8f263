package rtprobe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
)

// loadStats collects the results of the load mode. Safe for concurrent use.
type loadStats struct {
	retries, done, failed atomic.Int64
	hedges, hedgesWon     atomic.Int64
	canceled              atomic.Int64 // in flight when the load was interrupted: not counted

	mu          sync.Mutex      // guards the fields below
	latencies   []time.Duration // of the requests that reached the network
	classes     map[string]int  // every request's outcome
	statuses    map[int]int
	rejected    map[string]int // requests that never reached the network, by class
	transitions []transitionLog
}

// transitionLog is one breaker transition during a load.
type transitionLog struct {
	Key  string  `json:"key"`
	From string  `json:"from"`
	To   string  `json:"to"`
	AtMS float64 `json:"at_ms"`
}

func newLoadStats() *loadStats {
	return &loadStats{classes: map[string]int{}, statuses: map[int]int{}, rejected: map[string]int{}}
}

// record counts one request. reached says whether any attempt of it asked
// for a connection: one that did not (a breaker or limiter rejection) is
// counted apart and kept out of the latency figures, which would otherwise
// describe our own rejections rather than the server.
func (s *loadStats) record(d time.Duration, class string, status int, reached bool) {
	s.mu.Lock()
	s.classes[class]++
	if status != 0 {
		s.statuses[status]++
	}
	if reached {
		s.latencies = append(s.latencies, d)
	} else {
		s.rejected[class]++
	}
	s.mu.Unlock()
	if class != errclass.OK.String() {
		s.failed.Add(1)
	}
	s.done.Add(1)
}

func (s *loadStats) hedge(e hedge.Event) {
	if e.Won {
		s.hedgesWon.Add(1)
	} else {
		s.hedges.Add(1)
	}
}

func (s *loadStats) transition(at time.Duration, key string, from, to breaker.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transitions = append(s.transitions, transitionLog{Key: key, From: from.String(), To: to.String(), AtMS: msf(at)})
}

// runLoad sends requests to target from pf.c workers through one standard
// stack and prints a summary. It returns 0 when every request got a status
// below 400.
func runLoad(ctx context.Context, pf probeFlags, target string, con console) (int, error) {
	st := newLoadStats()
	start := time.Now()
	h := clientHooks{
		retry: []retry.Option{retry.WithOnRetry(func(retry.Event) { st.retries.Add(1) })},
		breaker: []breaker.Option{breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			st.transition(time.Since(start), key, from, to)
		})},
		hedge: []hedge.Option{hedge.WithOnHedge(st.hedge)},
	}
	fl, err := openFleet(pf, con, &h)
	if err != nil {
		return 2, err
	}
	c, err := pf.newClient(h)
	if err != nil {
		fl.close()
		return 2, err
	}
	defer c.close()
	fl.sync(ctx, con)
	total := pf.count()
	stopBar := progress(con, total, pf.duration, &st.done, &st.failed)
	interrupted := drive(ctx, pf, total, func() { loadOne(ctx, pf, target, c.Client, st) })
	stopBar()
	sum := st.summary(pf, target, time.Since(start), total, interrupted)
	if lim := c.stack.Limit(); lim != nil {
		sum.Limits = limitsOf(lim)
	}
	sum.Fleet = fl.close()
	if pf.json {
		writeJSON(con.out, sum)
	} else {
		sum.print(con.out)
	}
	return sum.code, nil
}

// count is the number of requests to send; 0 when the load is bounded by
// -duration, or by nothing but an interrupt (-rate alone).
func (pf probeFlags) count() int {
	if pf.duration > 0 || (pf.rate > 0 && !pf.set["n"]) {
		return 0
	}
	return pf.n
}

// drive runs do from pf.c workers, total times (0: no count), until
// -duration has passed or ctx ends; with -rate the starts are paced. It
// reports whether ctx ended the load early.
func drive(ctx context.Context, pf probeFlags, total int, do func()) (interrupted bool) {
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range pf.c {
		wg.Go(func() {
			for range jobs {
				do()
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	var end <-chan time.Time
	if pf.duration > 0 {
		t := time.NewTimer(pf.duration)
		defer t.Stop()
		end = t.C
	}
	start := time.Now()
	for i := 0; total == 0 || i < total; i++ {
		if pf.rate > 0 {
			at := start.Add(time.Duration(float64(i) / pf.rate * float64(time.Second)))
			t := time.NewTimer(time.Until(at))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return true
			case <-end:
				t.Stop()
				return false
			}
		}
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			return true
		case <-end:
			return false
		}
	}
	return false
}

// loadOne sends one request and records it.
func loadOne(ctx context.Context, pf probeFlags, target string, client *http.Client, st *loadStats) {
	var conns atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: func(string) { conns.Add(1) }})
	req, err := pf.newRequest(ctx, target)
	if err != nil {
		st.record(0, errclass.Classify(err).String(), 0, false)
		return
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	d := time.Since(t0)
	reached := conns.Load() > 0
	if err != nil && ctx.Err() != nil { // interrupted: says nothing of the server
		st.canceled.Add(1)
		return
	}
	switch {
	case err != nil:
		class := errclass.Classify(err).String()
		if p := errclass.PhaseOf(err); p != errclass.PhaseNone {
			class += " " + string(p)
		}
		st.record(d, class, status, reached)
	case status >= 400:
		st.record(d, errclass.Status.String(), status, reached)
	default:
		st.record(d, errclass.OK.String(), status, reached)
	}
}

// loadSummary is the result of a load: the JSON object of -json, and what
// the text output is made from.
type loadSummary struct {
	Method      string          `json:"method"`
	URL         string          `json:"url"` // redacted
	Requests    int             `json:"requests"`
	Workers     int             `json:"workers"`
	ElapsedMS   float64         `json:"elapsed_ms"`
	Rate        float64         `json:"rate"` // requests completed per second
	TargetRate  float64         `json:"target_rate,omitempty"`
	Reached     int             `json:"reached_network"`
	Latency     *latencyFigures `json:"latency_ms,omitempty"` // of the requests that reached the network
	Outcomes    map[string]int  `json:"outcomes"`
	Statuses    map[string]int  `json:"statuses,omitempty"`
	Rejected    map[string]int  `json:"rejected"` // not sent, by class: breaker_open, limited
	Retries     int64           `json:"retries"`
	Hedges      *hedgeLog       `json:"hedges,omitempty"` // with -hedge
	Transitions []transitionLog `json:"breaker_transitions"`
	Limits      []limitLog      `json:"limits,omitempty"`
	Fleet       *fleetLog       `json:"fleet,omitempty"` // with -fleet
	Interrupted bool            `json:"interrupted,omitempty"`
	Canceled    int64           `json:"canceled,omitempty"` // in flight at the interrupt, not counted
	code        int
}

// hedgeLog counts the hedges of a load (-hedge).
type hedgeLog struct {
	Sent int64 `json:"sent"`
	Won  int64 `json:"won"` // of those sent: their response came first
}

// latencyFigures are percentiles in milliseconds.
type latencyFigures struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (s *loadStats) summary(pf probeFlags, target string, elapsed time.Duration, total int, interrupted bool) loadSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := sumOf(s.classes)
	sum := loadSummary{
		Method: pf.method, URL: redactedURL(target), Requests: n, Workers: pf.c,
		ElapsedMS: msf(elapsed), Rate: float64(n) / elapsed.Seconds(), TargetRate: pf.rate,
		Reached: len(s.latencies), Outcomes: maps(s.classes), Rejected: maps(s.rejected),
		Retries: s.retries.Load(), Transitions: append([]transitionLog{}, s.transitions...),
		Interrupted: interrupted, Canceled: s.canceled.Load(),
	}
	if len(s.statuses) > 0 {
		sum.Statuses = map[string]int{}
		for k, v := range s.statuses {
			sum.Statuses[strconv.Itoa(k)] = v
		}
	}
	if pf.hedge.on() {
		sum.Hedges = &hedgeLog{Sent: s.hedges.Load(), Won: s.hedgesWon.Load()}
	}
	if lat := slices.Sorted(slices.Values(s.latencies)); len(lat) > 0 {
		sum.Latency = &latencyFigures{
			P50: msf(percentile(lat, 50)), P90: msf(percentile(lat, 90)),
			P99: msf(percentile(lat, 99)), Max: msf(lat[len(lat)-1]),
		}
	}
	sum.code = 1
	if n > 0 && s.classes[errclass.OK.String()] == n && (total == 0 || n == total) {
		sum.code = 0
	}
	return sum
}

// maps copies m.
func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
