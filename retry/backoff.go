package retry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Jitter says how a backoff wait is randomised. The exponential step of
// retry k (0 for the first retry) is exp = min(cap, base·2^k).
type Jitter uint8

const (
	// JitterFull waits a uniform random time in [0, exp). It spreads
	// clients best and is the default.
	JitterFull Jitter = iota
	// JitterEqual waits exp/2 plus a uniform random time in [0, exp/2).
	JitterEqual
	// JitterDecorrelated waits min(cap, base + a uniform random time in
	// [0, 3·prev − base)), where prev is the previous wait (base at first).
	JitterDecorrelated
	// JitterNone waits exactly exp. Use it only where a single client
	// talks to a server, or in tests.
	JitterNone
)

// String returns "full", "equal", "decorrelated" or "none".
func (j Jitter) String() string {
	switch j {
	case JitterFull:
		return "full"
	case JitterEqual:
		return "equal"
	case JitterDecorrelated:
		return "decorrelated"
	case JitterNone:
		return "none"
	}
	return "Jitter(" + strconv.Itoa(int(j)) + ")"
}

// backoff is a resolved WithBackoff value.
type backoff struct {
	base, cap time.Duration
	jitter    Jitter
}

// wait returns the wait before retry k (0 for the first retry). prev is the
// previous wait, used by JitterDecorrelated; rnd returns a float in [0, 1).
func (b backoff) wait(k int, prev time.Duration, rnd func() float64) time.Duration {
	if b.jitter == JitterDecorrelated {
		if prev < b.base {
			prev = b.base
		}
		hi := 3 * float64(prev)
		if hi > float64(b.cap) {
			hi = float64(b.cap)
		}
		d := float64(b.base) + rnd()*(hi-float64(b.base))
		return clampDur(d, b.base, b.cap)
	}
	exp := b.cap
	if k < 62 && b.base <= b.cap>>uint(k) {
		exp = b.base << uint(k)
	}
	switch b.jitter {
	case JitterFull:
		return clampDur(rnd()*float64(exp), 0, exp)
	case JitterEqual:
		half := exp / 2
		return half + clampDur(rnd()*float64(exp-half), 0, exp-half)
	}
	return exp
}

// clampDur converts d to a Duration within [lo, hi].
func clampDur(d float64, lo, hi time.Duration) time.Duration {
	switch {
	case d <= float64(lo) || math.IsNaN(d):
		return lo
	case d >= float64(hi):
		return hi
	}
	return time.Duration(d)
}

// retryAfter parses the Retry-After header of resp, relative to now. It
// accepts delta-seconds and every date format [http.ParseTime] accepts. A
// date in the past, or a negative number of seconds, means "now" (0). A
// number of seconds, or a date, too far for a Duration is the largest
// Duration (as RFC 9111 §1.2.2 reads an overflowing delta), which the caller
// treats as above any cap, math.MaxInt64 included. ok is false when the header is absent or malformed, in which case
// the caller falls back to the backoff.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if len(v) > 1 && v[0] == '-' && isDigits(v[1:]) {
		return 0, true
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64, true // only a range error is possible here
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Spread of the waits that a server asked for.
const (
	spreadMin   = 100 * time.Millisecond
	spreadShare = 10 // percent of the wait
)

// spread returns d plus a random extra, uniform in [0, max(100 ms, 10 % of
// d)), so that the callers a server told to come back at the same time do
// not all arrive at once; never less than d. rnd returns a float in [0, 1).
func spread(d time.Duration, rnd func() float64) time.Duration {
	width := max(spreadMin, d/spreadShare)
	extra := clampDur(rnd()*float64(width), 0, width)
	if d > math.MaxInt64-extra {
		return math.MaxInt64
	}
	return d + extra
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
