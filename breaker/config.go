package breaker

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/http"
	"strings"
	"time"
)

// config is immutable once published: Update builds a new one and swaps the
// pointer, so a round trip sees one consistent set of thresholds.
type config struct {
	key           func(*http.Request) string
	defaultKey    bool // key is hostKey: method arguments are normalised like request keys
	windows       [numDims]time.Duration
	widths        [numDims]int64 // windows / numBuckets, in nanoseconds
	minRequests   int
	failRate      rate
	slowCall      time.Duration
	slowRate      rate
	p99           time.Duration
	concRate      rate
	openDuration  time.Duration
	probeDeadline time.Duration // 0: openDuration
	probes        int
	recWant       *recovery // the thresholds of WithRecovery; nil: the defaults, following the trip thresholds
	rec           recovery  // the recovery thresholds in force
	outcome       func(*http.Response, error) Outcome
	retryAfterMax time.Duration
	onState       []func(key string, from, to State)
	onReject      []func(key string)
	onEvict       []func(key string)
	clock         func() time.Time // nil: the monotonic clock of the time package
	store         Store            // nil: no fleet
	maxKeys       int

	// The options that set the trip thresholds, for messages; "" for a default.
	srcFail, srcP99, srcConc string
	// errs lists what was wrong with the options applied, in order.
	errs []string
}

// recovery holds the thresholds a half-open circuit must meet to close.
type recovery struct {
	failRate rate
	p99      time.Duration
	concRate rate
	src      string // the WithRecovery call, for messages
}

// Defaults, as documented on each option.
const (
	defaultFailureWindow      = 60 * time.Second
	defaultLatencyWindow      = 30 * time.Second
	defaultConcurrencyWindow  = 10 * time.Second
	defaultMinRequests        = 20
	defaultFailureRate        = 0.05
	defaultP99                = 2 * time.Second
	defaultConcurrentFailRate = 0.15
	defaultOpenDuration       = 30 * time.Second
	defaultHalfOpenProbes     = 5
	defaultRecoveryFailRate   = 0.01
	defaultRecoveryP99        = 800 * time.Millisecond
	defaultRecoveryConcFail   = 0.03
	defaultMaxKeys            = 1024
	minWindow                 = numBuckets * time.Millisecond
)

func defaultConfig() config {
	return config{
		key:          hostKey,
		defaultKey:   true,
		windows:      [numDims]time.Duration{defaultFailureWindow, defaultLatencyWindow, defaultConcurrencyWindow},
		minRequests:  defaultMinRequests,
		failRate:     rateOf(defaultFailureRate),
		p99:          defaultP99,
		concRate:     rateOf(defaultConcurrentFailRate),
		openDuration: defaultOpenDuration,
		probes:       defaultHalfOpenProbes,
		maxKeys:      defaultMaxKeys,
	}
}

// build applies opts to a copy of base and checks the result. The error names
// every invalid option and every conflict; the config is nil then.
func build(base config, opts []Option) (*config, error) {
	c := base
	c.errs = nil
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.resolveRecovery()
	if len(c.errs) > 0 {
		return nil, errors.New("breaker: " + strings.Join(c.errs, "; "))
	}
	for d := range c.windows {
		c.widths[d] = int64(c.windows[d]) / numBuckets
	}
	return &c, nil
}

// mustBuild is build for New and Middleware: options written in code that
// are invalid are a programming error.
func mustBuild(opts []Option) *config {
	c, err := build(defaultConfig(), opts)
	if err != nil {
		panic(err.Error())
	}
	return c
}

func (c *config) fail(msg string) { c.errs = append(c.errs, msg) }

// checkRate records an error unless f is in [0, 1], and reports whether it is.
func (c *config) checkRate(src string, f float64) bool {
	if f >= 0 && f <= 1 {
		return true
	}
	if !strings.Contains(src, "(") {
		src = fmt.Sprintf("%s(%v)", src, f)
	}
	c.fail(src + ": need a rate in [0, 1]")
	return false
}

// setWindow sets the window of d, or records an error and reports false.
func (c *config) setWindow(src string, d dimension, w time.Duration) bool {
	if w < minWindow {
		c.fail(fmt.Sprintf("%s(%v): need at least %v", src, w, minWindow))
		return false
	}
	c.windows[d] = w
	return true
}

// resolveRecovery sets c.rec: the thresholds of WithRecovery, checked against
// the trip thresholds, or the defaults, each lowered to a trip threshold set
// tighter than it.
func (c *config) resolveRecovery() {
	if c.recWant == nil {
		c.rec = recovery{
			failRate: tighter(rateOf(defaultRecoveryFailRate), c.failRate),
			p99:      defaultRecoveryP99,
			concRate: tighter(rateOf(defaultRecoveryConcFail), c.concRate),
		}
		if c.p99 > 0 && c.p99 < c.rec.p99 {
			c.rec.p99 = c.p99
		}
		return
	}
	r := *c.recWant
	c.rec = r
	if c.failRate > 0 && r.failRate > c.failRate {
		c.conflict(r.src, c.srcFail, "default failure rate", defaultFailureRate, "failure rate", r.failRate, c.failRate)
	}
	if c.p99 > 0 && r.p99 > c.p99 {
		other := c.srcP99
		if other == "" {
			other = fmt.Sprintf("the default P99 %v", defaultP99)
		}
		c.fail(fmt.Sprintf("%s conflicts with %s: a recovery P99 of %v is looser than the trip P99 %v", r.src, other, r.p99, c.p99))
	}
	if c.concRate > 0 && r.concRate > c.concRate {
		c.conflict(r.src, c.srcConc, "default concurrent failure rate", defaultConcurrentFailRate, "concurrent failure rate", r.concRate, c.concRate)
	}
}

func (c *config) conflict(src, other, defName string, def float64, what string, rec, trip rate) {
	if other == "" {
		other = fmt.Sprintf("the %s %v", defName, def)
	}
	c.fail(fmt.Sprintf("%s conflicts with %s: a recovery %s of %v is looser than the trip rate %v",
		src, other, what, rec.float(), trip.float()))
}

// tighter returns the recovery rate def, lowered to trip when trip is on and
// tighter.
func tighter(def, trip rate) rate {
	if trip > 0 && trip < def {
		return trip
	}
	return def
}

// probeDeadlineOf returns how long a probe may run.
func (c *config) probeDeadlineOf() int64 {
	if c.probeDeadline > 0 {
		return int64(c.probeDeadline)
	}
	return int64(c.openDuration)
}

// rate is a share in parts per billion, so that a threshold compares with a
// count exactly: no float rounding decides a trip.
type rate uint64

const perBillion = 1_000_000_000

func rateOf(f float64) rate { return rate(math.Round(f * perBillion)) }

func (r rate) float() float64 { return float64(r) / perBillion }

// exceeded reports whether part / whole > r (false when whole is 0).
func (r rate) exceeded(part, whole uint64) bool {
	if whole == 0 {
		return false
	}
	return cmp128(part, perBillion, uint64(r), whole) > 0
}

// cmp128 compares a×b with c×d without overflow.
func cmp128(a, b, c, d uint64) int {
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	switch {
	case h1 != h2:
		if h1 > h2 {
			return 1
		}
		return -1
	case l1 != l2:
		if l1 > l2 {
			return 1
		}
		return -1
	}
	return 0
}

// satAdd returns at + d, or math.MaxInt64 when that overflows: "never" on the
// Transport's timeline.
func satAdd(at, d int64) int64 {
	if d > math.MaxInt64-at {
		return math.MaxInt64
	}
	return at + d
}
