// Package breaker is a circuit breaker for HTTP clients, as an
// [http.RoundTripper] decorator with one breaker per host.
//
// # The rule
//
// A breaker is closed, open or half-open. While closed, it counts outcomes in
// three sliding windows, one per dimension, and trips open as soon as any one
// dimension breaks its threshold (the comparisons are strict):
//
//   - failure rate: more than 5 % of the outcomes of the last 60 s failed
//     (a success rate below 95 %; [WithFailureRate], [WithFailureWindow]);
//   - latency: the P99 of the last 30 s is above 2 s, that is more than 1 %
//     of those outcomes took longer than 2 s ([WithP99],
//     [WithLatencyWindow]); optionally, more than a share of them took
//     longer than a bound ([WithSlowCall]);
//   - concurrent failures: among the outcomes of the last 10 s that
//     overlapped another call to the same host, more than 15 % failed
//     ([WithConcurrentFailureRate], [WithConcurrencyWindow]).
//
// A dimension is judged once its window holds 20 outcomes
// ([WithMinRequests]); the P99 needs 100, because with fewer the 99th
// percentile is simply the slowest call and one slow call would open the
// host. Every decision counts: "P99 > 2 s" is decided by counting the calls
// slower than 2 s, never from a histogram's bin edge.
//
// An open breaker rejects calls at once with an [*OpenError], without
// touching the network. After 30 s ([WithOpenDuration]) it turns half-open
// and admits 5 probes ([WithHalfOpenProbes]). It closes only when they meet
// the recovery thresholds, which are stricter (hysteresis; [WithRecovery]):
// a success rate of at least 99 % (with 5 probes: none fails), a P99 of at
// most 800 ms (with 5 probes: none slower than 800 ms) and at most 3 %
// concurrent failures. It reopens as soon as the probes break one of them. A
// probe that has not ended after the open duration ([WithProbeDeadline])
// counts as failed, so a hung probe never holds the breaker half-open.
//
// # An API that fails now and then
//
// The rule is strict, and it counts every attempt. Against an API where 10 %
// of calls fail transiently, a retry layer above would hide nearly every
// failure (with 3 attempts, 0.1 % of requests fail), but the breaker opens:
// 2 failures among the first 20 calls are already more than 5 %. It then
// rejects every call for 30 s, and its 5 probes all succeed only 59 % of the
// time (0.9⁵), so 41 % of the time it stays open 30 s more. Over an hour,
// about 60 % of calls are rejected at 1 call per second, 93 % at 10 and 99 %
// at 100. If such an API is normal for you, set the thresholds above its
// failure rate with a margin; with these, the same API is almost never
// rejected (under 0.5 % of calls at 1 call per second, none at 10):
//
//	breaker.New(next,
//		breaker.WithFailureRate(0.25),           // trip above 25 % failures
//		breaker.WithConcurrentFailureRate(0.35), // or above 35 % of overlapping calls failing
//		breaker.WithRecovery(0.2, 800*time.Millisecond, 0.2), // 1 probe in 5 may fail
//	)
//
// # What counts
//
// [DefaultOutcome] decides: network errors and timeouts of our own layers
// (for instance a body-idle or attempt bound of the timeouts package below)
// are failures, and so are 5xx responses; 4xx responses are successes; a 429
// is neutral, not counted (the server pacing us is not an outage). A call
// whose own context ended (the caller's cancellation or deadline, including
// an outer one-deadline-for-all-attempts layer) is neutral, and so is any
// error [errclass.Neutral] reports. [WithOutcome] and [WithFailure] replace
// the rule.
//
// The outcome of a response with a body is decided when the body ends: EOF
// is a success, a read error (reset, body-idle timeout) a failure, a Close
// before EOF by the caller a success. Until then the call is in flight, and
// a half-open probe holds its slot. The latency that the P99 and slow-call
// conditions use is the time to response headers: reading the body is
// mostly the caller's pace.
//
// With [WithRetryAfter] (on in the standard stack), a 429 or 503 carrying
// Retry-After pauses its key for every caller until then: rejections carry
// the time left and [errclass.PausedFor] reports it, so the retry layer
// above waits and sends once the pause is over.
//
// # Keys, control and reload
//
// Breakers are made on demand, one per key: by default the request's
// normalised host, so "API.example", "api.example" and "api.example:443"
// (https) are one breaker. [Transport.Keys] lists them, [Transport.ForceOpen]
// drains a host (rejects until [Transport.Reset]), and Reset closes a
// breaker with a fresh window. [Transport.Update] changes settings at run
// time, atomically; it returns an error, and changes nothing, when the new
// settings are invalid or contradict each other.
//
// Up to [WithMaxKeys] breakers are kept (default 1024). Past that, the least
// recently used closed breakers with no call in flight are dropped
// ([WithOnEvict] tells); open and half-open breakers are never dropped.
//
// # Generations and hooks
//
// Each transition starts a new generation; an outcome is counted only if its
// call started in the current generation, so a slow call that started before
// the breaker opened does not count after it closes again. The hooks of
// [WithOnStateChange] run once per transition, in order, outside every lock;
// from them, [Transport.Counts] returns the counts that caused the
// transition.
//
// # Fleets
//
// With [WithStore], the processes of a service share their breakers: a
// transition in one is adopted by the others within about two sync
// intervals of the store (250 ms with redisstore's defaults), window counts
// add up across processes, and half-open probes count for the fleet.
// Admission stays local and lock-free: no call waits for the store, and
// without it the breakers go on alone. See [Store] and the module
// github.com/rtchain/chain/redisstore.
//
// # Time and cost
//
// Time comes from [WithClock]; no goroutine is started (a [Store] runs its
// own), and every transition is computed from the clock when a call or a
// method looks. The closed path
// takes no lock (at most a shard's read lock of the registry, when a client
// talks to several hosts); it allocates only the wrapper of a response body
// that has to be watched to its end, and a rejection allocates only its
// error. Outcomes are counted in per-bucket atomic counters, so concurrent
// calls do not queue behind one mutex.
package breaker

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/layer"
)

// Transport is an [http.RoundTripper] that keeps one breaker per key (by
// default per host) in front of the next RoundTripper. It is safe for
// concurrent use; its settings change only through [Transport.Update].
type Transport struct {
	layer.Next
	cfg  atomic.Pointer[config]
	base time.Time // the origin of the timeline: the clock's reading at construction
	reg  registry
	last atomic.Pointer[circuit] // the newest circuit: a lookup-free path for clients of one host
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that guards next (nil means
// [http.DefaultTransport]) with the given options. An invalid option, or
// options that contradict each other, panic with a message naming them.
func New(next http.RoundTripper, opts ...Option) *Transport {
	cfg := mustBuild(opts)
	t := &Transport{Next: layer.Of(next), base: time.Now()}
	if cfg.clock != nil {
		t.base = cfg.clock()
	}
	t.cfg.Store(cfg)
	t.reg.init()
	if cfg.store != nil {
		t.share(cfg.store)
	}
	return t
}

// Middleware returns a middleware that wraps its next RoundTripper with
// [New](next, opts...). Invalid options panic here, not when the middleware is
// applied. Each application makes a Transport with its own breakers.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	mustBuild(opts)
	return func(next http.RoundTripper) http.RoundTripper { return New(next, opts...) }
}

// Update applies opts on top of the current settings, atomically: calls see
// either the old or the new settings, never a mix. Breakers keep their state
// and their windows; new thresholds apply from the next outcome. Hooks given
// are added to those in place. WithClock and WithStore are ignored. When an
// option is invalid or the result contradicts itself (a recovery threshold
// looser than its trip threshold), Update returns an error naming the
// options and changes nothing; it never panics.
func (t *Transport) Update(opts ...Option) error {
	for {
		old := t.cfg.Load()
		cfg, err := build(*old, opts)
		if err != nil {
			return errclass.Wrap(err)
		}
		cfg.clock, cfg.store = old.clock, old.store
		if t.cfg.CompareAndSwap(old, cfg) {
			return nil
		}
	}
}

// now returns the current time on the Transport's timeline: nanoseconds since
// construction, by the configured clock.
func (t *Transport) now() int64 { return t.tick(t.cfg.Load()) }

// tick reads the clock of cfg. The default reads only the monotonic clock
// (time.Since), which costs half of a time.Now.
func (t *Transport) tick(cfg *config) int64 {
	var d time.Duration
	if cfg.clock == nil {
		d = time.Since(t.base)
	} else {
		d = cfg.clock().Sub(t.base)
	}
	return max(int64(d), 0)
}

// RoundTrip sends req through the breaker of its key. When the breaker
// rejects the call (open, half-open with every probe slot busy, or paused),
// it closes req.Body and returns an [*OpenError] without calling the next
// RoundTripper. Otherwise it returns what the next RoundTripper returns, its
// error passed through [errclass.Wrap], and counts the outcome when the
// response body ends.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cfg := t.cfg.Load()
	at := t.tick(cfg)
	c := t.last.Load()
	var key string
	if c != nil && cfg.defaultKey && c.spelledAs(req) {
		key = c.key // the newest circuit's own spelling: no need to normalise
	} else if key = cfg.key(req); c != nil && c.key != key {
		c = nil
	}
	for range 3 {
		if c == nil {
			if c = t.reg.get(t, key, cfg, at, req); c == nil {
				break
			}
		}
		tk, rej, v := c.admit(t, cfg, at)
		switch v {
		case admitted:
			return t.call(cfg, c, tk, at, req)
		case rejected:
			if req.Body != nil {
				req.Body.Close()
			}
			for _, f := range cfg.onReject {
				f(c.key)
			}
			return nil, &OpenError{Key: c.key, RetryIn: rej.retryIn, Pause: rej.pause, ProbesBusy: rej.busy}
		}
		c = nil
	}
	// The registry is full of breakers that cannot be dropped: go through
	// without one.
	next := t.RT()
	resp, err := next.RoundTrip(req)
	resp, err = layer.Checked("breaker", next, req, resp, err)
	return resp, errclass.Wrap(err)
}

// call sends an admitted request and reports its outcome to c, when the
// response body ends or at once, even when the next RoundTripper panics.
func (t *Transport) call(cfg *config, c *circuit, tk ticket, start int64, req *http.Request) (resp *http.Response, err error) {
	finished := false
	defer func() {
		if !finished {
			c.done(t, cfg, tk, t.now(), obs{}, false)
		}
	}()
	next := t.RT()
	resp, err = next.RoundTrip(req)
	finished = true
	end := t.tick(cfg)
	resp, err = layer.Checked("breaker", next, req, resp, err)
	latency := time.Duration(end - start)
	out := cfg.classify(req, resp, err)
	if err == nil {
		t.pauseFor(cfg, c, resp, end)
		if out == Success && hasBody(resp) {
			resp.Body = &body{rc: resp.Body, c: c, tk: tk, req: req, resp: resp, at: end, latency: latency}
			return resp, nil
		}
	}
	c.done(t, cfg, tk, end, obs{latency: latency, failed: out == Failure}, out != Neutral)
	return resp, errclass.Wrap(err)
}
