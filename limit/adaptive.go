package limit

import (
	"fmt"
	"math"
	"time"
)

// Adaptive is the rule of an adaptive limit, given to [WithAdaptive]. Each
// key learns its own limit; a zero field takes its default.
//
// The rule follows the gradient rule of Netflix's concurrency-limits
// (Gradient2Limit) and of Envoy's adaptive concurrency filter (its gradient
// controller), with the no-load latency of TCP Vegas (Brakmo and Peterson,
// 1995: BaseRTT) learned as described below. Each key's requests are
// sampled by their time to response headers, from admission (after any wait
// for a slot) to the return of the next RoundTripper; an attempt that ends in
// a timeout counts with the time it took, other errors are not samples. (At
// high rates only one request in every few is timed, so that an interval
// gathers about 100 samples.) Once an interval of at least Interval has
// gathered at least 10 samples, their mean latency L updates the limit:
//
//	gradient = clamp(Tolerance × noLoad / L, 0.5, 1)
//	limit    = clamp(gradient × limit + √limit, Min, Max)
//
// While the latency stays within Tolerance times the no-load latency the
// gradient is 1 and the limit grows by √limit per interval; above it the limit
// shrinks in proportion, at most by half (plus √limit) per interval. A key
// that used at most half its limit during the interval is not allowed to grow
// (it is limited by its callers, not by the server), only to shrink. The
// headroom √limit keeps a key from starving on a server that is slow for
// reasons other than load: at a steady latency of twice the no-load latency
// the limit settles near 16, at three times or more near 4.
//
// The no-load latency is learned from light intervals, those in which the key
// used at most half its limit: it is a moving average of their mean latencies
// (each new one weighs 1/8), started from the key's first interval. Busy
// intervals do not move it, so an overload cannot teach the limiter that
// overload is normal. If no light interval comes for Relearn, the lowest mean
// latency of the busy intervals since then becomes the new no-load latency:
// a server that is slower for good, or an overload that lasts, is accepted as
// the new normal after that long. A key that is busy from its first request
// on learns the latency of its first interval as its no-load latency.
type Adaptive struct {
	// Min is the lowest limit (default 1).
	Min int
	// Max is the highest limit (default 1000, or Min when Min is higher).
	Max int
	// Initial is the limit of a new key (default 20, moved into [Min, Max]).
	Initial int
	// Tolerance is how many times the no-load latency the latency may reach
	// before the limit shrinks (default 1.5; at least 1).
	Tolerance float64
	// Interval is the shortest sampling interval (default 100 ms).
	Interval time.Duration
	// Relearn is how long the no-load latency is kept with no light
	// interval to refresh it (default 1 minute).
	Relearn time.Duration
}

// Constants of the rule, as the documentation of Adaptive states them.
const (
	minSamples   = 10    // samples an interval needs before it closes
	perInterval  = 100   // samples an interval aims for: at higher rates, one request in every few is timed
	minGradient  = 0.5   // the most an interval can shrink the limit by (before headroom)
	lightShare   = 0.5   // an interval is light when its peak in flight is at most this share of the limit
	noLoadWeight = 0.125 // the weight of a light interval in the no-load moving average
)

// check panics when a field of a is out of range.
func (a Adaptive) check() {
	bad := func(why string) {
		panic(fmt.Sprintf("limit: WithAdaptive(%+v): %s", a, why))
	}
	switch {
	case a.Min < 0 || a.Max < 0 || a.Initial < 0:
		bad("limits must be ≥ 0 (0 means the default)")
	case a.Min > 0 && a.Max > 0 && a.Min > a.Max:
		bad("Min above Max")
	case a.Initial > 0 && (a.Initial < a.Min || a.Max > 0 && a.Initial > a.Max):
		bad("Initial outside [Min, Max]")
	case a.Tolerance != 0 && !(a.Tolerance >= 1 && a.Tolerance <= math.MaxFloat64):
		bad("Tolerance must be at least 1")
	case a.Interval < 0 || a.Relearn < 0:
		bad("durations must be ≥ 0 (0 means the default)")
	}
}

// withDefaults returns a with every zero field set to its default.
func (a Adaptive) withDefaults() Adaptive {
	if a.Min == 0 {
		a.Min = defaultMin
	}
	if a.Max == 0 {
		a.Max = max(defaultMax, a.Min)
	}
	if a.Initial == 0 {
		a.Initial = min(max(defaultInitial, a.Min), a.Max)
	}
	if a.Tolerance == 0 {
		a.Tolerance = defaultTolerance
	}
	if a.Interval == 0 {
		a.Interval = defaultInterval
	}
	if a.Relearn == 0 {
		a.Relearn = defaultRelearn
	}
	return a
}

// estimator is the adaptive state of one key. Its owner (the host) guards
// it with its mutex. Times are nanoseconds on the Transport's clock.
type estimator struct {
	limit   float64 // the limit as a real number; the key's limit is its floor
	start   int64   // start of the current interval
	sum     int64   // sum of the current interval's samples
	n       int     // number of the current interval's samples
	peak    int     // most slots held at once during the current interval
	taken   int     // requests admitted during the current interval
	every   int     // time one request in every so many (at least 1)
	seq     int     // requests admitted since the last one timed
	noLoad  float64 // the no-load latency; 0 before the first interval closes
	fed     int64   // when noLoad was last learned
	lowest  float64 // lowest interval latency since then (busy intervals only); 0: none
	latency float64 // mean latency of the last closed interval
}

func newEstimator(a *Adaptive, now int64) *estimator {
	return &estimator{limit: float64(a.Initial), start: now, every: 1}
}

// admit counts an admitted request and reports whether to time it.
func (e *estimator) admit() bool {
	e.taken++
	e.seq++
	if e.seq < e.every {
		return false
	}
	e.seq = 0
	return true
}

// observe records one sample of rtt at now, with inFlight slots held. When
// the sample closes the interval it recomputes the limit and reports true.
func (e *estimator) observe(a *Adaptive, now, rtt int64, inFlight int) bool {
	e.sum += rtt
	e.n++
	if now-e.start < int64(a.Interval) || e.n < minSamples {
		return false
	}
	e.update(a, now, float64(e.sum)/float64(e.n))
	e.every = max(1, e.taken/perInterval)
	e.start, e.sum, e.n, e.peak, e.taken = now, 0, 0, inFlight, 0
	return true
}

// update applies the rule of Adaptive to an interval of mean latency recent.
func (e *estimator) update(a *Adaptive, now int64, recent float64) {
	recent = max(recent, 1)
	light := float64(e.peak) <= e.limit*lightShare
	switch {
	case e.noLoad == 0:
		e.noLoad, e.fed = recent, now
	case light:
		e.noLoad += (recent - e.noLoad) * noLoadWeight
		e.fed, e.lowest = now, 0
	default:
		if e.lowest == 0 || recent < e.lowest {
			e.lowest = recent
		}
		if now-e.fed >= int64(a.Relearn) {
			e.noLoad, e.fed, e.lowest = e.lowest, now, 0
		}
	}
	gradient := min(max(a.Tolerance*e.noLoad/recent, minGradient), 1)
	next := gradient*e.limit + math.Sqrt(e.limit)
	if light && next > e.limit {
		next = e.limit
	}
	e.limit = min(max(next, float64(a.Min)), float64(a.Max))
	e.latency = recent
}
