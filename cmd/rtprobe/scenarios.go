package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// scenarioConfig holds the knobs of the scenario run. The chain side uses
// the standard stack with its timeouts scaled down so that the whole run
// takes seconds; the plain side is bounded only by the probe itself.
type scenarioConfig struct {
	plainBound     time.Duration // how long the plain client is given before it counts as hung
	guard          time.Duration // a bound on the chain side too, against our own bugs
	headerTimeout  time.Duration
	bodyIdle       time.Duration
	attempts       int
	backoff        time.Duration
	maxBackoff     time.Duration
	breakerMin     int
	breakerCalls   int           // requests sent in the breaker scenario
	slowHeader     time.Duration // how long the slow-header server waits
	trickleEvery   time.Duration
	trickleBytes   int
	retryAfterSecs int
	p99            time.Duration   // the breaker's P99 bound in the rule scenarios (the design's 2s)
	slowCall       time.Duration   // the one slow call of the healthy host, above p99
	only           map[string]bool // run only these scenarios (tests); nil: all
}

func defaultScenarioConfig() scenarioConfig {
	return scenarioConfig{
		plainBound:     3 * time.Second,
		guard:          15 * time.Second,
		headerTimeout:  500 * time.Millisecond,
		bodyIdle:       500 * time.Millisecond,
		attempts:       3,
		backoff:        50 * time.Millisecond,
		maxBackoff:     200 * time.Millisecond,
		breakerMin:     5,
		breakerCalls:   20,
		slowHeader:     time.Minute,
		trickleEvery:   100 * time.Millisecond,
		trickleBytes:   15,
		retryAfterSecs: 1,
		p99:            2 * time.Second,
		slowCall:       2500 * time.Millisecond,
	}
}

// chainOptions is the standard stack the scenarios run, with cfg's bounds.
func (cfg scenarioConfig) chainOptions() []standard.Option {
	return []standard.Option{
		standard.WithTimeouts(
			timeouts.WithResponseHeader(cfg.headerTimeout),
			timeouts.WithBodyIdle(cfg.bodyIdle),
		),
		standard.WithRetry(
			retry.WithMaxAttempts(cfg.attempts),
			retry.WithBackoff(cfg.backoff, cfg.maxBackoff, retry.JitterFull),
		),
		standard.WithBreaker(
			breaker.WithMinRequests(cfg.breakerMin),
			breaker.WithOpenDuration(time.Minute),
		),
	}
}

// ruleOptions is the standard stack of the two scenarios that show the
// breaker's own rule: its defaults (trip on a success rate below 95 % or a
// P99 above cfg.p99, judged from 20 and 100 outcomes), with a response
// header bound that lets the slow call through.
func (cfg scenarioConfig) ruleOptions() []standard.Option {
	return []standard.Option{
		standard.WithTimeouts(
			timeouts.WithResponseHeader(cfg.slowCall+cfg.headerTimeout),
			timeouts.WithBodyIdle(cfg.bodyIdle),
		),
		standard.WithRetry(
			retry.WithMaxAttempts(cfg.attempts),
			retry.WithBackoff(cfg.backoff, cfg.maxBackoff, retry.JitterFull),
		),
		standard.WithBreaker(
			breaker.WithP99(cfg.p99),
			breaker.WithOpenDuration(time.Minute),
		),
	}
}

func (cfg scenarioConfig) describe() string {
	return fmt.Sprintf("plain: http.Client{} (no bounds of its own), stopped by rtprobe after %v\n"+
		"chain: standard.Client() with response header %v, body idle %v, %d attempts, backoff %v..%v,\n"+
		"       breaker judged from %d calls (timeouts scaled down so that the run is quick);\n"+
		"       the two \"rule\" scenarios keep the breaker's own rule: trip below 95 %% success\n"+
		"       (from 20 outcomes) or on a P99 above %v (more than 1 %% of at least 100 outcomes slower)",
		cfg.plainBound, cfg.headerTimeout, cfg.bodyIdle, cfg.attempts, cfg.backoff, cfg.maxBackoff, cfg.breakerMin, cfg.p99)
}

// target is what a scenario sends to.
type target struct {
	url   string
	hits  func() int // requests the server received; nil when there is no server
	close func()
}

func fromServer(s *transporttest.Server) target {
	return target{url: s.URL, hits: s.Requests, close: s.Close}
}

// scenario is one failure shape and what chain is expected to do with it.
type scenario struct {
	name    string
	start   func(cfg scenarioConfig) target
	calls   int    // requests sent one after the other (1 when 0, cfg.breakerCalls when -1)
	expect  string // what the check below wants, for the table
	check   func(cfg scenarioConfig, o outcome) bool
	options func(cfg scenarioConfig) []standard.Option // the chain client's; nil: cfg.chainOptions()
}

// outcome is what one client did in one scenario: the last request's result
// and the counts over all of them.
type outcome struct {
	status   int
	err      error
	class    errclass.Class
	phase    errclass.Phase
	attempts int // connections asked for by the last request (GetConn)
	hits     int // requests the server received, over all calls
	elapsed  time.Duration
	hung     bool // the context's bound expired
}

func scenarios() []scenario {
	isTimeout := func(p errclass.Phase) func(scenarioConfig, outcome) bool {
		return func(cfg scenarioConfig, o outcome) bool {
			return o.class == errclass.Timeout && o.phase == p && o.elapsed < cfg.plainBound
		}
	}
	return []scenario{
		{
			name: "slow header",
			start: func(cfg scenarioConfig) target {
				return fromServer(transporttest.NewSlowHeader(cfg.slowHeader))
			},
			expect: "timeout response_header",
			check:  isTimeout(errclass.PhaseResponseHeader),
		},
		{
			name:   "stalled body",
			start:  func(scenarioConfig) target { return fromServer(transporttest.NewStall(1024)) },
			expect: "timeout body_idle",
			check:  isTimeout(errclass.PhaseBodyIdle),
		},
		{
			name: "trickle stream",
			start: func(cfg scenarioConfig) target {
				return fromServer(transporttest.NewTrickle(cfg.trickleEvery, cfg.trickleBytes))
			},
			expect: "200, not cut",
			check: func(_ scenarioConfig, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK
			},
		},
		{
			name: "503 then 200 (Retry-After)",
			start: func(cfg scenarioConfig) target {
				h := http.Header{"Retry-After": {fmt.Sprint(cfg.retryAfterSecs)}}
				return fromServer(transporttest.NewSequence(
					transporttest.Reply{Status: http.StatusServiceUnavailable, Header: h},
					transporttest.Reply{Status: http.StatusOK, Body: "ok"},
				))
			},
			expect: "200 after 2 attempts",
			check: func(_ scenarioConfig, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK && o.attempts == 2
			},
		},
		{
			name:   "reset mid-body",
			start:  func(scenarioConfig) target { return fromServer(transporttest.NewResetMidBody(1024)) },
			expect: "reset, at once",
			check: func(cfg scenarioConfig, o outcome) bool {
				return o.class == errclass.Reset && o.elapsed < cfg.plainBound
			},
		},
		{
			name:   "blackhole",
			start:  func(scenarioConfig) target { return fromServer(transporttest.NewBlackhole()) },
			expect: "timeout response_header",
			check:  isTimeout(errclass.PhaseResponseHeader),
		},
		{
			name: "dead port",
			start: func(scenarioConfig) target {
				return target{url: "http://" + transporttest.DeadAddr(), close: func() {}}
			},
			expect: "refused, all attempts",
			check: func(cfg scenarioConfig, o outcome) bool {
				return o.class == errclass.Refused && o.attempts == cfg.attempts
			},
		},
		{
			name: "failing host (breaker)",
			start: func(scenarioConfig) target {
				return fromServer(transporttest.NewSequence(transporttest.Reply{Status: http.StatusServiceUnavailable}))
			},
			calls:  -1, // cfg.breakerCalls
			expect: "breaker_open, fewer hits",
			check: func(cfg scenarioConfig, o outcome) bool {
				return o.class == errclass.BreakerOpen && o.attempts == 0 && o.hits < cfg.breakerCalls
			},
		},
		{
			name:    "10% failing host (rule)",
			start:   func(scenarioConfig) target { return fromServer(newFlaky(10)) },
			calls:   flakyCalls,
			expect:  "breaker_open: below 95% success",
			options: scenarioConfig.ruleOptions,
			check: func(_ scenarioConfig, o outcome) bool {
				// 2 failures among the first 20 attempts open it, although
				// retries hid every failure from the caller until then.
				return o.class == errclass.BreakerOpen && o.attempts == 0 && o.hits <= 21
			},
		},
		{
			name:    "one slow call among many (rule)",
			start:   func(cfg scenarioConfig) target { return fromServer(newOneSlow(slowAt, cfg.slowCall)) },
			calls:   slowCalls,
			expect:  "200 every time, closed",
			options: scenarioConfig.ruleOptions,
			check: func(_ scenarioConfig, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK && o.hits == slowCalls
			},
		},
	}
}

// The rule scenarios' sizes: enough calls for the failure rate to be judged
// (20 outcomes) and for the P99 to be judged with one slow call in it (100
// outcomes, the slow one after the 20th).
const (
	flakyCalls = 40
	slowCalls  = 120
	slowAt     = 30
)

// newFlaky returns a server that answers every n-th request with 503 and the
// others with 200: a host that fails 100/n % of calls, transiently.
func newFlaky(n int64) *transporttest.Server {
	var seen atomic.Int64
	return transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1)%n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
}

// newOneSlow returns a healthy server whose at-th request takes d.
func newOneSlow(at int64, d time.Duration) *transporttest.Server {
	var seen atomic.Int64
	return transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == at {
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "ok")
	}))
}

// result is one row of the table.
type result struct {
	sc           scenario
	plain, chain outcome
	ok           bool
}

// runScenarios runs every scenario with both clients, concurrently, prints
// the table to w and returns 0 when chain met every expectation.
func runScenarios(ctx context.Context, w io.Writer, cfg scenarioConfig) int {
	var list []scenario
	for _, sc := range scenarios() {
		if cfg.only == nil || cfg.only[sc.name] {
			list = append(list, sc)
		}
	}
	results := make([]result, len(list))
	var wg sync.WaitGroup
	for i, sc := range list {
		results[i].sc = sc
		wg.Add(2)
		go func() {
			defer wg.Done()
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			results[i].plain = runOne(ctx, cfg, sc, &http.Client{Transport: tr}, cfg.plainBound)
		}()
		go func() {
			defer wg.Done()
			opts := cfg.chainOptions()
			if sc.options != nil {
				opts = sc.options(cfg)
			}
			c := standard.Client(opts...)
			defer c.CloseIdleConnections()
			results[i].chain = runOne(ctx, cfg, sc, c, cfg.guard)
		}()
	}
	wg.Wait()

	code := 0
	fmt.Fprintln(w, cfg.describe())
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPLAIN net/http\tTIME\tCHAIN standard.Client()\tATTEMPTS\tTIME\tEXPECTED\tOK")
	for i := range results {
		r := &results[i]
		r.ok = r.sc.check(cfg, r.chain)
		mark := "ok"
		if !r.ok {
			mark = "FAIL"
			code = 1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			r.sc.name, describe(r.plain, cfg.plainBound, r.sc.calls != 0), seconds(r.plain.elapsed),
			describe(r.chain, cfg.guard, r.sc.calls != 0), r.chain.attempts, seconds(r.chain.elapsed), r.sc.expect, mark)
	}
	tw.Flush()
	if code == 0 {
		fmt.Fprintln(w, "\nchain behaved as expected in every scenario")
	} else {
		fmt.Fprintln(w, "\nchain did NOT behave as expected in every scenario")
	}
	return code
}

// runOne sends the scenario's requests with c, each bounded by bound, and
// returns the outcome.
func runOne(ctx context.Context, cfg scenarioConfig, sc scenario, c *http.Client, bound time.Duration) outcome {
	t := sc.start(cfg)
	defer t.close()
	calls := sc.calls
	if calls < 0 {
		calls = cfg.breakerCalls
	} else if calls == 0 {
		calls = 1
	}
	var o outcome
	start := time.Now()
	for range calls {
		o = fetch(ctx, c, http.MethodGet, t.url, bound)
	}
	o.elapsed = time.Since(start)
	if t.hits != nil {
		o.hits = t.hits()
	}
	return o
}

// fetch sends one GET and reads the whole body, within bound.
func fetch(ctx context.Context, c *http.Client, method, url string, bound time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var conns atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { conns.Add(1) },
	})
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return outcome{err: err, class: errclass.Classify(err)}
	}
	resp, err := c.Do(req)
	var o outcome
	if err == nil {
		o.status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.err = err
	o.attempts = int(conns.Load())
	if err != nil {
		o.class, o.phase = errclass.Classify(err), errclass.PhaseOf(err)
		o.hung = ctx.Err() != nil && errclass.PhaseOf(err) == errclass.PhaseNone
	} else if o.status >= 400 {
		o.class = errclass.Status
	}
	return o
}

// describe is the table cell for an outcome; showHits adds the server's
// request count, for scenarios that send many requests.
func describe(o outcome, bound time.Duration, showHits bool) string {
	var s string
	switch {
	case o.hung:
		s = "hung > " + bound.String()
	case o.err != nil && o.phase != errclass.PhaseNone:
		s = o.class.String() + " " + string(o.phase)
	case o.err != nil:
		s = o.class.String()
	default:
		s = fmt.Sprint(o.status)
	}
	if showHits {
		s += fmt.Sprintf(" (%d hits)", o.hits)
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
