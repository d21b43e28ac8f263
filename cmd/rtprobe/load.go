package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
)

// loadStats collects the results of the load mode. Safe for concurrent use.
type loadStats struct {
	retries atomic.Int64
	done    atomic.Int64

	mu          sync.Mutex // guards the fields below
	latencies   []time.Duration
	classes     map[string]int
	statuses    map[int]int
	transitions []string
}

func (s *loadStats) record(d time.Duration, class string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	s.classes[class]++
	if status != 0 {
		s.statuses[status]++
	}
}

func (s *loadStats) transition(at time.Duration, key string, from, to breaker.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transitions = append(s.transitions, fmt.Sprintf("%s %s→%s at %s", key, from, to, ms(at)))
}

// runLoad sends pf.n requests to target from pf.c workers through one
// standard stack and prints a summary. It returns 0 when every request got a
// status below 400.
func runLoad(ctx context.Context, pf probeFlags, target string, w io.Writer) int {
	st := &loadStats{classes: map[string]int{}, statuses: map[int]int{}}
	start := time.Now()
	client := pf.client(
		standard.WithRetry(retry.WithOnRetry(func(retry.Event) { st.retries.Add(1) })),
		standard.WithBreaker(breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			st.transition(time.Since(start), key, from, to)
		})),
	)
	defer client.CloseIdleConnections()

	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range pf.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				loadOne(ctx, pf, target, client, st)
			}
		}()
	}
	stopBar := progress(w, pf.n, &st.done)
feed:
	for range pf.n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	stopBar()
	return st.print(w, pf, redactedURL(target), time.Since(start))
}

func loadOne(ctx context.Context, pf probeFlags, target string, client *http.Client, st *loadStats) {
	defer st.done.Add(1)
	req, err := pf.newRequest(ctx, target)
	if err != nil {
		st.record(0, errclass.Classify(err).String(), 0)
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
	switch {
	case err != nil:
		class := errclass.Classify(err).String()
		if p := errclass.PhaseOf(err); p != errclass.PhaseNone {
			class += " " + string(p)
		}
		st.record(d, class, status)
	case status >= 400:
		st.record(d, errclass.Status.String(), status)
	default:
		st.record(d, errclass.OK.String(), status)
	}
}

// print writes the summary and returns the exit code.
func (s *loadStats) print(w io.Writer, pf probeFlags, url string, elapsed time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.latencies)
	fmt.Fprintf(w, "%s %s: %d requests in %s (%.1f/s), %d workers\n",
		pf.method, url, n, ms(elapsed), float64(n)/elapsed.Seconds(), pf.c)
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	if n > 0 {
		fmt.Fprintf(w, "latency   p50 %s  p90 %s  p99 %s  max %s\n",
			ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99)), ms(lat[n-1]))
	}
	fmt.Fprintf(w, "outcomes  %s\n", countLine(s.classes))
	if len(s.statuses) > 0 {
		m := make(map[string]int, len(s.statuses))
		for k, v := range s.statuses {
			m[fmt.Sprint(k)] = v
		}
		fmt.Fprintf(w, "statuses  %s\n", countLine(m))
	}
	fmt.Fprintf(w, "retries   %d\n", s.retries.Load())
	fmt.Fprintf(w, "breaker   %d transitions\n", len(s.transitions))
	for _, t := range s.transitions {
		fmt.Fprintf(w, "          %s\n", t)
	}
	if s.classes[errclass.OK.String()] == n && n == pf.n {
		return 0
	}
	return 1
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// countLine formats counts as "a 3  b 1", largest first.
func countLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, "  ")
}

// progress draws a progress bar on w every 100 ms when w is a terminal, and
// returns a function that stops it.
func progress(w io.Writer, total int, done *atomic.Int64) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	draw := func() {
		const width = 40
		d := int(done.Load())
		filled := width * d / total
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), d, total)
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				draw()
				fmt.Fprintln(w)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
