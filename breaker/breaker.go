// Package breaker is a circuit breaker for HTTP clients, as an
// [http.RoundTripper] decorator with one breaker per host.
//
// A breaker is closed, open or half-open. While closed, it counts the outcomes
// of calls over a sliding window ([WithWindow], kept in 10 buckets) and trips
// open once the window holds at least [WithMinRequests] outcomes and any one of
// these holds:
//
//   - the share of failures reaches [WithFailureRate];
//   - the share of slow calls reaches the rate of [WithSlowCall];
//   - the window's P99 latency reaches [WithP99];
//   - among the calls that overlapped another call, the share of failures
//     reaches [WithConcurrentFailureRate].
//
// An open breaker rejects calls at once with an [*OpenError], without touching
// the network. After [WithOpenDuration] it turns half-open and admits up to
// [WithHalfOpenProbes] probes; it closes when they succeed and meet the
// stricter thresholds of [WithRecovery] (so it does not flap at the edge of a
// threshold), and reopens otherwise.
//
// # What counts
//
// By default a 5xx or 429 response and any error (network errors, timeouts)
// are failures; other responses, 4xx included, are successes. A call whose
// context the caller cancelled is not counted at all, nor is an error of class
// [errclass.Canceled] or [errclass.BreakerOpen]. [WithFailure] replaces the
// rule.
//
// The outcome is taken when RoundTrip returns, that is when the response
// headers arrive: the latency used by the slow-call and P99 conditions is the
// time to headers. Reading the body is the caller's time and is not counted.
//
// # Generations and hooks
//
// Each transition starts a new generation; an outcome is counted only if its
// call started in the current generation, so a slow call that started before
// the breaker opened does not count after it closes again. The hook of
// [WithOnStateChange] runs once per transition, in order, outside every lock;
// from it, [Transport.Counts] returns the counts that caused the transition.
//
// # Time and cost
//
// Time comes from [WithClock]; no goroutine is started, and every transition
// is computed from the clock when a call or a method looks. The closed path
// takes no lock (at most a shard's read lock of the registry, when a client
// talks to several hosts) and allocates nothing; a rejection allocates only
// its error. Outcomes are counted in per-bucket atomic counters, so
// concurrent calls do not queue behind one mutex.
//
// # Registry
//
// Breakers are made on demand, one per key, up to [WithMaxKeys] (default
// 1024). Past that, the least recently used closed breakers with no call in
// flight are dropped ([WithOnEvict] tells); open and half-open breakers are
// never dropped.
package breaker

import (
	"context"
	"errors"
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

// errNilResponse replaces a (nil, nil) result of the next RoundTripper.
var errNilResponse = errors.New("breaker: next RoundTripper returned no response and no error")

// New returns a Transport that guards next (nil means
// [http.DefaultTransport]) with the given options. An invalid option panics.
func New(next http.RoundTripper, opts ...Option) *Transport {
	cfg := build(defaultConfig(), opts)
	t := &Transport{Next: layer.Of(next), base: time.Now()}
	if cfg.clock != nil {
		t.base = cfg.clock()
	}
	t.cfg.Store(cfg)
	t.reg.init()
	return t
}

// Middleware returns a middleware that wraps its next RoundTripper with
// [New](next, opts...). Invalid options panic here, not when the middleware is
// applied. Each application makes a Transport with its own breakers.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	build(defaultConfig(), opts)
	return func(next http.RoundTripper) http.RoundTripper { return New(next, opts...) }
}

// Update applies opts on top of the current settings, atomically: calls see
// either the old or the new settings, never a mix. Breakers keep their state
// and their windows; new thresholds apply from the next outcome. WithClock is
// ignored. An invalid option panics and changes nothing.
func (t *Transport) Update(opts ...Option) {
	for {
		old := t.cfg.Load()
		cfg := build(*old, opts)
		cfg.clock = old.clock
		if t.cfg.CompareAndSwap(old, cfg) {
			return
		}
	}
}

// State returns the state of the breaker for key (Closed for a key it has no
// breaker for). An open breaker whose OpenDuration is over turns half-open
// here, and the state-change hook runs.
func (t *Transport) State(key string) State {
	c := t.reg.lookup(key)
	if c == nil {
		return Closed
	}
	return c.state(t, t.now())
}

// Counts returns the counts that caused the latest transition of the breaker
// for key: the window that tripped it, or the probes that closed or reopened
// it (a turn from open to half-open keeps the counts that opened it). It is
// the zero Counts before any transition. It is safe to call from the
// state-change hook.
func (t *Transport) Counts(key string) Counts {
	c := t.reg.lookup(key)
	if c == nil {
		return Counts{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Window returns the live counts of the breaker for key: its sliding window
// when closed, its probes so far when half-open, and zero when open or
// unknown.
func (t *Transport) Window(key string) Counts {
	c := t.reg.lookup(key)
	if c == nil {
		return Counts{}
	}
	return c.window(t, t.now())
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
	if d < 0 {
		return 0
	}
	return int64(d)
}

// RoundTrip sends req through the breaker of its key. When the breaker is
// open (or half-open with every probe slot taken), it closes req.Body and
// returns an [*OpenError] without calling the next RoundTripper. Otherwise it
// returns what the next RoundTripper returns and counts the outcome.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cfg := t.cfg.Load()
	at := t.tick(cfg)
	key := cfg.key(req)
	for i := range 3 {
		c := t.last.Load()
		if i > 0 || c == nil || c.key != key {
			if c = t.reg.get(t, key, cfg, at); c == nil {
				break
			}
		}
		tk, retryIn, v := c.admit(t, cfg, at)
		switch v {
		case admitted:
			return t.call(cfg, c, tk, at, req)
		case rejected:
			if req.Body != nil {
				req.Body.Close()
			}
			if cfg.onReject != nil {
				cfg.onReject(c.key)
			}
			return nil, &OpenError{Key: c.key, RetryIn: retryIn}
		}
	}
	// The registry is full of breakers that cannot be dropped: go through
	// without one.
	return t.RT().RoundTrip(req)
}

// call sends an admitted request and reports its outcome to c, even when the
// next RoundTripper panics.
func (t *Transport) call(cfg *config, c *circuit, tk ticket, start int64, req *http.Request) (resp *http.Response, err error) {
	finished := false
	defer func() {
		if !finished {
			c.done(t, cfg, tk, t.now(), obs{}, false)
		}
	}()
	resp, err = t.RT().RoundTrip(req)
	finished = true
	end := t.tick(cfg)
	if resp == nil && err == nil {
		err = errNilResponse
	}
	o := obs{latency: time.Duration(end - start)}
	counted := true
	if err != nil && neutral(req, err) {
		counted = false
	} else if cfg.failure != nil {
		o.failed = cfg.failure(resp, err)
	} else {
		o.failed = err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	o.slow = cfg.slowCall > 0 && o.latency >= cfg.slowCall
	c.done(t, cfg, tk, end, o, counted)
	return resp, err
}

// neutral reports whether err says nothing about the server's health: the
// caller cancelled, or a breaker further down rejected the call.
func neutral(req *http.Request, err error) bool {
	if req.Context().Err() == context.Canceled {
		return true
	}
	switch errclass.Classify(err) {
	case errclass.Canceled, errclass.BreakerOpen:
		return true
	}
	return false
}
