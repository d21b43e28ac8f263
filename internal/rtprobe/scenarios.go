package rtprobe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
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
	overload       overloadConfig  // the "overloaded host" scenario
	tail           tailConfig      // the "slow tail" scenario
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
		overload: overloadConfig{
			workers: 4, service: 50 * time.Millisecond,
			warmRate: 40, warm: 500 * time.Millisecond,
			rate: 160, duration: 2 * time.Second,
			deadline: 500 * time.Millisecond,
		},
		tail: tailConfig{
			every: 20, fast: time.Millisecond, slow: time.Second,
			rate: 200, duration: 2 * time.Second, deadline: 5 * time.Second,
			quantile: 0.9, floor: 20 * time.Millisecond, ceiling: 200 * time.Millisecond,
			ratio: 0.1, perSec: 10, maxHits: 1.2,
		},
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
		"       (from 20 outcomes) or on a P99 above %v (more than 1 %% of at least 100 outcomes slower)\n"+
		"overloaded host: %v;\n"+
		"       plain: net/http alone; chain: chain.Build(net/http, limit.Middleware()), the adaptive limit\n"+
		"%s",
		cfg.plainBound, cfg.headerTimeout, cfg.bodyIdle, cfg.attempts, cfg.backoff, cfg.maxBackoff, cfg.breakerMin, cfg.p99, cfg.overload,
		cfg.tail.describe())
}

// target is what a scenario sends to.
type target struct {
	url   string
	hits  func() int // requests the server received; nil when there is no server
	close func()
	dial  func(ctx context.Context, network, addr string) (net.Conn, error) // nil: the network
}

// serving starts a server of h and returns it as a target.
func serving(h http.Handler) target { return fromServer(transporttest.NewServer(h)) }

func fromServer(s *transporttest.Server) target {
	return target{url: s.URL, hits: func() int { return s.Stats().Requests }, close: s.Close}
}

// scenario is one failure shape and what chain is expected to do with it.
type scenario struct {
	name    string
	start   func(cfg scenarioConfig) target
	calls   int                                                 // requests sent one after the other (1 when 0, cfg.breakerCalls when -1)
	expect  string                                              // what the check below wants, for the table
	check   func(cfg scenarioConfig, plain, chain outcome) bool // whether chain did as expected
	options func(cfg scenarioConfig) []standard.Option          // the chain client's; nil: cfg.chainOptions()

	// transport, when not nil, replaces the transport of each client,
	// the plain one or chain's, for t.
	transport func(cfg scenarioConfig, t target, chain bool) http.RoundTripper
	// drive, when not nil, replaces the requests sent one after the other.
	drive func(ctx context.Context, cfg scenarioConfig, t target, rt http.RoundTripper) outcome
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
	hung     bool         // the context's bound expired
	load     *loadFigures // of the overloaded host
	tail     *tailFigures // of the slow tail
}

func scenarios() []scenario {
	isTimeout := func(p errclass.Phase) func(scenarioConfig, outcome, outcome) bool {
		return func(cfg scenarioConfig, _, o outcome) bool {
			return o.class == errclass.Timeout && o.phase == p && o.elapsed < cfg.plainBound
		}
	}
	return []scenario{
		{
			name: "slow header",
			start: func(cfg scenarioConfig) target {
				return serving(transporttest.Reply{Delay: cfg.slowHeader, Body: "slow\n"})
			},
			expect: "timeout response_header",
			check:  isTimeout(errclass.PhaseResponseHeader),
		},
		{
			name: "stalled body",
			start: func(scenarioConfig) target {
				return serving(transporttest.Reply{BodySize: 1024, Fault: transporttest.Stall})
			},
			expect: "timeout body_idle",
			check:  isTimeout(errclass.PhaseBodyIdle),
		},
		{
			name: "trickle stream",
			start: func(cfg scenarioConfig) target {
				return serving(transporttest.Reply{BodySize: int64(cfg.trickleBytes), Trickle: cfg.trickleEvery})
			},
			expect: "200, not cut",
			check: func(_ scenarioConfig, _, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK
			},
		},
		{
			name: "503 then 200 (Retry-After)",
			start: func(cfg scenarioConfig) target {
				h := http.Header{"Retry-After": {fmt.Sprint(cfg.retryAfterSecs)}}
				return serving(transporttest.Sequence(
					transporttest.Reply{Status: http.StatusServiceUnavailable, Header: h},
					transporttest.Reply{Status: http.StatusOK, Body: "ok"},
				))
			},
			expect: "200 after 2 attempts",
			check: func(_ scenarioConfig, _, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK && o.attempts == 2
			},
		},
		{
			name: "reset mid-body",
			start: func(scenarioConfig) target {
				return serving(transporttest.Reply{BodySize: 1024, Fault: transporttest.ResetMidBody})
			},
			expect: "reset, at once",
			check: func(cfg scenarioConfig, _, o outcome) bool {
				return o.class == errclass.Reset && o.elapsed < cfg.plainBound
			},
		},
		{
			name: "blackhole",
			start: func(scenarioConfig) target {
				return serving(transporttest.Reply{Fault: transporttest.Blackhole})
			},
			expect: "timeout response_header",
			check:  isTimeout(errclass.PhaseResponseHeader),
		},
		{
			name: "dead port",
			start: func(scenarioConfig) target {
				return target{url: "http://" + transporttest.DeadAddr(), close: func() {}}
			},
			expect: "refused, all attempts",
			check: func(cfg scenarioConfig, _, o outcome) bool {
				return o.class == errclass.Refused && o.attempts == cfg.attempts
			},
		},
		{
			name: "failing host (breaker)",
			start: func(scenarioConfig) target {
				return serving(transporttest.Reply{Status: http.StatusServiceUnavailable})
			},
			calls:  -1, // cfg.breakerCalls
			expect: "breaker_open, fewer hits",
			check: func(cfg scenarioConfig, _, o outcome) bool {
				return o.class == errclass.BreakerOpen && o.attempts == 0 && o.hits < cfg.breakerCalls
			},
		},
		{
			name:    "10% failing host (rule)",
			start:   func(scenarioConfig) target { return fromServer(newFlaky(10)) },
			calls:   flakyCalls,
			expect:  "breaker_open: below 95% success",
			options: scenarioConfig.ruleOptions,
			check: func(_ scenarioConfig, _, o outcome) bool {
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
			check: func(_ scenarioConfig, _, o outcome) bool {
				return o.err == nil && o.status == http.StatusOK && o.hits == slowCalls
			},
		},
		{
			name:      "overloaded host (limit)",
			start:     func(cfg scenarioConfig) target { return newOverloaded(cfg.overload) },
			transport: overloadTransport,
			drive: func(ctx context.Context, cfg scenarioConfig, t target, rt http.RoundTripper) outcome {
				return outcome{load: driveOverload(ctx, cfg.overload, rt, t.url)}
			},
			expect: "sheds; ≤½ the timeouts",
			check:  overloadHandled,
		},
		{
			name:      "slow tail (hedge)",
			start:     func(cfg scenarioConfig) target { return newSlowTail(cfg.tail) },
			transport: tailTransport,
			drive: func(ctx context.Context, cfg scenarioConfig, t target, rt http.RoundTripper) outcome {
				return outcome{tail: driveTail(ctx, cfg.tail, rt, t)}
			},
			expect: "p99 < slow time, ≤1.2 hits/req",
			check:  tailCut,
		},
	}
}

// overloadHandled is what chain must do with the overloaded host, compared
// with plain net/http on the same machine at the same time (both sides run
// together, so a busy machine slows both): shed the excess at the client, so
// that at most half as many requests time out as without the limit and at
// least as many are served in time. Plain net/http queues every request at
// the server instead: latency climbs to the deadline, requests time out, and
// the server spends its time on requests whose clients have gone.
func overloadHandled(_ scenarioConfig, plain, chain outcome) bool {
	p, c := plain.load, chain.load
	return p != nil && c != nil && c.Sent > 0 && c.Shed > 0 &&
		c.Timeouts*2 <= p.Timeouts && c.Goodput >= p.Goodput
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
		if seen.Add(1) == at && !pause(r, d) {
			return
		}
		io.WriteString(w, "ok")
	}))
}

// pause waits d and reports true, or false as soon as r's context ends: its
// client has gone away, or the server is closing.
func pause(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	}
	return false
}
