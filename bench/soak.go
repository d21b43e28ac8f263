package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
)

// SoakConfig bounds and shapes one soak run (see Soak).
type SoakConfig struct {
	// Requests is how many requests go through the standard stack.
	Requests int
	// Workers is how many goroutines send them, each one request at a time.
	Workers int
	// Seed makes the mix of faults repeatable (each worker draws from its own
	// generator seeded from it).
	Seed uint64
	// HeaderBound and BodyIdle are the stack's response-header and body-idle
	// (and write-idle) bounds: scaled down from the standard defaults so that
	// a slow header or a stall costs a fraction of a second.
	HeaderBound, BodyIdle time.Duration
	// RotateEvery is the period of client certificate rotations (every
	// fourth one rotates the TLS server's certificate as well).
	RotateEvery time.Duration
	// Guard is each request's own deadline: a request that reaches it has
	// hung (the stack's bounds should have ended it long before).
	Guard time.Duration
	// Checkpoints is how many times the run pauses (between its first and
	// last tenth) to take the live heap after GC with no request in flight
	// (each pause waits for the slowest request in flight, up to two
	// seconds); at least 2, and the growth check compares the first and the
	// last ones (up to three each).
	Checkpoints int
	// ControlEvery makes every worker send one plain net/http request to the
	// healthy endpoint after this many requests through the stack: the
	// control group for the added latency.
	ControlEvery int
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
	// Wrap, when set, wraps the client's stack (outermost): for tests that
	// check that the harness catches a faulty layer.
	Wrap func(http.RoundTripper) http.RoundTripper
}

// ShortSoak is the configuration run by go test: a few thousand requests.
// Its bounds are 1 s rather than the long run's 200 ms: CI runs it under the
// race detector on two shared cores, where a healthy exchange can take
// several hundred milliseconds.
var ShortSoak = SoakConfig{
	Requests:     3000,
	Workers:      64,
	Seed:         1,
	HeaderBound:  time.Second,
	BodyIdle:     time.Second,
	RotateEvery:  400 * time.Millisecond,
	Guard:        10 * time.Second,
	Checkpoints:  4,
	ControlEvery: 8,
}

// LongSoak is the configuration of the recorded run.
var LongSoak = SoakConfig{
	Requests:     100_000,
	Workers:      64,
	Seed:         1,
	HeaderBound:  200 * time.Millisecond,
	BodyIdle:     200 * time.Millisecond,
	RotateEvery:  500 * time.Millisecond,
	Guard:        10 * time.Second,
	Checkpoints:  8,
	ControlEvery: 8,
}

// target is where a scenario's request goes.
type target uint8

const (
	toFaults target = iota // the FaultServer with every HTTP fault
	toPaced                // a FaultServer of its own for 503 + Retry-After
	toDead                 // a loopback port where nothing listens
	toTLS                  // the mutual-TLS server whose certificates rotate
)

var targetNames = [...]string{"h1", "paced", "dead", "tls"}

// scenario is one kind of request in the mix: a fault, where it is played,
// on how many attempts (1: the first only, so a retry can recover; 9: all),
// and its weight in the mix (out of the sum of weights).
type scenario struct {
	fault  Fault
	to     target
	k      int
	weight int
}

func (s scenario) String() string {
	return fmt.Sprintf("%s %s k=%d", targetNames[s.to], s.fault, s.k)
}

// soakMix is the mix of the soak: about a quarter of the requests meet a
// fault. The paced host and the dead port are hosts of their own, so that
// their breakers open without closing the main host's, and the TLS host
// plays no fault: every request to it must succeed through the rotations.
var soakMix = []scenario{
	{FaultNone, toFaults, 0, 520},
	{FaultResetBefore, toFaults, 1, 25},
	{FaultResetBefore, toFaults, 9, 15},
	{FaultResetMid, toFaults, 9, 30},
	{FaultStall, toFaults, 9, 20},
	{FaultSlowHeader, toFaults, 1, 15},
	{FaultSlowHeader, toFaults, 9, 10},
	{Fault503, toFaults, 1, 30},
	{Fault503, toFaults, 9, 15},
	{FaultTrickle, toFaults, 0, 15},
	{FaultNone, toPaced, 0, 60},
	{Fault503RetryAfter, toPaced, 1, 20},
	{Fault503RetryAfter, toPaced, 9, 10},
	{FaultRefused, toDead, 0, 20},
	{FaultNone, toTLS, 0, 195},
}

// loadOutcomes may end any request that reaches a host, whatever the fault:
// on a loaded machine (two cores shared with the race detector and other
// builds) a healthy exchange can outlast the scaled-down bounds, and the
// breaker may open a host whose latency or failures cross its thresholds.
// They are still classified, with a phase.
var loadOutcomes = []string{
	errclass.BreakerOpen.String(),
	"timeout/" + string(errclass.PhaseResponseHeader),
	"timeout/" + string(errclass.PhaseBodyIdle),
	"timeout/" + string(errclass.PhaseTLSHandshake),
}

// allowed lists the outcomes a correct stack may report for a scenario
// (class, and phase for a timeout): what its fault produces, and the load
// outcomes. What it excludes is the point: a truncated or stalled body, or a
// reset on every attempt, never reported as a success; a healthy request
// never failing with reset, tls, status or protocol (a rotation that broke a
// connection under a request would show here); a refused dial never
// reported as anything else; a timeout never without its phase.
func (s scenario) allowed() []string {
	ok, reset := errclass.OK.String(), errclass.Reset.String()
	status := errclass.Status.String()
	var own []string
	switch s.fault {
	case FaultNone, FaultTrickle:
		own = []string{ok}
	case FaultResetBefore:
		own = []string{reset}
		if s.k < 3 {
			own = append(own, ok)
		}
	case FaultResetMid:
		own = []string{reset}
	case FaultStall:
		own = nil // body_idle, a load outcome
	case FaultSlowHeader:
		if s.k < 2 {
			own = []string{ok}
		}
	case Fault503, Fault503RetryAfter:
		own = []string{status}
		if s.k < 3 {
			own = append(own, ok)
		}
	case FaultRefused:
		return []string{errclass.Refused.String(), errclass.BreakerOpen.String()}
	}
	return append(own, loadOutcomes...)
}

// outcome is what one request ended with.
type outcome struct {
	class errclass.Class
	phase errclass.Phase
	err   error // the error of RoundTrip or of reading the body, nil for none
}

// key is the outcome as reported: the class name, and for a timeout
// "timeout/<phase>" ("timeout/none" when it has no phase).
func (o outcome) key() string {
	if o.class == errclass.Timeout {
		if o.phase == errclass.PhaseNone {
			return "timeout/none"
		}
		return o.class.String() + "/" + string(o.phase)
	}
	return o.class.String()
}

// classify turns what one request returned into its outcome.
func classify(status int, err, bodyErr error) outcome {
	if err == nil {
		err = bodyErr
	}
	var o outcome
	switch {
	case err != nil:
		o = outcome{class: errclass.Classify(err), phase: errclass.PhaseOf(err), err: err}
	case status >= 400:
		o.class = errclass.Status
	default:
		o.class = errclass.OK
	}
	return o
}

// tally is one worker's record, merged at the end.
type tally struct {
	byScenario map[scenario]map[string]int
	stackLat   latencyHist // healthy h1 requests through the stack that succeeded
	tlsLat     latencyHist // TLS requests that succeeded
	controlLat latencyHist // plain net/http requests to the healthy endpoint
	controls   int
	problems   map[string][]string // unclassified outcomes and hangs, by kind
	classes    map[string][]string // outcomes outside the scenario's allowed set, by kind
	sentinels  map[string][]string // errors that do not match their class's sentinel, by kind
	counts     map[string]int      // how many of each kind
}

func newTally() *tally {
	return &tally{
		byScenario: map[scenario]map[string]int{},
		problems:   map[string][]string{},
		classes:    map[string][]string{},
		sentinels:  map[string][]string{},
		counts:     map[string]int{},
	}
}

// maxExamples is how many messages of one kind a report keeps.
const maxExamples = 3

// note counts a message of its kind and keeps the first few.
func (t *tally) note(list map[string][]string, kind, msg string) {
	t.counts[kind]++
	if len(list[kind]) < maxExamples {
		list[kind] = append(list[kind], msg)
	}
}

func (t *tally) record(sc scenario, o outcome, d time.Duration, hung bool) {
	k := o.key()
	m := t.byScenario[sc]
	if m == nil {
		m = map[string]int{}
		t.byScenario[sc] = m
	}
	m[k]++
	switch {
	case hung:
		t.note(t.problems, "hang", fmt.Sprintf("%v: hung until the guard deadline: %v", sc, o.err))
	case o.class == errclass.Unknown:
		t.note(t.problems, "unclassified", fmt.Sprintf("%v: unclassified outcome: %v", sc, o.err))
	}
	if o.class == errclass.OK {
		switch {
		case sc.to == toTLS:
			t.tlsLat.add(d)
		case sc.fault == FaultNone && sc.to == toFaults:
			t.stackLat.add(d)
		}
	}
	if !contains(sc.allowed(), k) {
		t.note(t.classes, "class:"+sc.String()+":"+k, fmt.Sprintf("%v: reported %s, a correct stack reports one of %v: %v", sc, k, sc.allowed(), o.err))
	}
	if s := o.class.Sentinel(); o.err != nil && s != nil && !errors.Is(o.err, s) {
		t.note(t.sentinels, "sentinel:"+k, fmt.Sprintf("%v: %s error does not match %v: %v", sc, k, s, o.err))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// picker draws scenarios by weight.
type picker struct {
	rng   *rand.Rand
	total int
}

func (p *picker) next() scenario {
	n := p.rng.IntN(p.total)
	for _, s := range soakMix {
		if n < s.weight {
			return s
		}
		n -= s.weight
	}
	return soakMix[0]
}

// result is what one request returned.
type result struct {
	status       int   // 0 when RoundTrip failed
	err, bodyErr error // of RoundTrip, of reading the body
	d            time.Duration
	hung         bool // the request reached its guard deadline
}

// do sends one GET, reads the body to its end and closes it.
func do(c *http.Client, url string, guard time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return result{err: err}
	}
	start := time.Now()
	var r result
	resp, err := c.Do(req)
	if err == nil {
		_, r.bodyErr = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.status = resp.StatusCode
	}
	r.err, r.d, r.hung = err, time.Since(start), ctx.Err() != nil
	return r
}

// drive runs the workers until cfg.Requests requests have gone through the
// stack, counting progress in done.
func (h *soakHarness) drive(done *atomic.Int64) []*tally {
	var next atomic.Int64
	tallies := make([]*tally, h.cfg.Workers)
	total := 0
	for _, s := range soakMix {
		total += s.weight
	}
	var wg sync.WaitGroup
	for w := range h.cfg.Workers {
		t := newTally()
		tallies[w] = t
		p := &picker{rng: rand.New(rand.NewPCG(h.cfg.Seed, uint64(w))), total: total}
		wg.Go(func() {
			for n := 1; next.Add(1) <= int64(h.cfg.Requests); n++ {
				sc := p.next()
				h.gate.RLock()
				r := do(h.client, h.url(sc), h.cfg.Guard)
				if h.cfg.ControlEvery > 0 && n%h.cfg.ControlEvery == 0 {
					h.control(t)
				}
				h.gate.RUnlock()
				t.record(sc, classify(r.status, r.err, r.bodyErr), r.d, r.hung)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return tallies
}

// control sends one plain net/http request to the healthy endpoint.
func (h *soakHarness) control(t *tally) {
	r := do(h.plain, h.faults.URL+FaultPath(FaultNone, 0), h.cfg.Guard)
	t.controls++
	if r.err == nil && r.bodyErr == nil && r.status == http.StatusOK {
		t.controlLat.add(r.d)
	}
}
