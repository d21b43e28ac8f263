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
// accepts delta-seconds and every date format [http.ParseTime] accepts; a
// date in the past means "now" (0). ok is false when the header is absent,
// malformed (including negative numbers) or too large for a Duration, in
// which case the caller falls back to the backoff.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
