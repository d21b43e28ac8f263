package breaker

import (
	"math"
	"net/http"
	"time"
)

// pauseFor pauses c after resp, a response that ended at time at, when it
// is a 429 or 503 whose Retry-After asks for a wait and WithRetryAfter is on.
// The pause only ever grows: a shorter Retry-After does not end a longer
// pause another caller set.
func (t *Transport) pauseFor(cfg *config, c *circuit, resp *http.Response, at int64) {
	if cfg.retryAfterMax <= 0 || resp == nil ||
		resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return
	}
	d, ok := retryAfter(resp.Header.Get("Retry-After"), t.wall(at))
	if !ok || d <= 0 {
		return
	}
	until := satAdd(at, int64(min(d, cfg.retryAfterMax)))
	for old := c.pausedUntil.Load(); until > old && !c.pausedUntil.CompareAndSwap(old, until); old = c.pausedUntil.Load() {
	}
}

// retryAfter parses a Retry-After value: delta-seconds, or an HTTP date
// (every format net/http accepts) compared with now. It reports false for an
// empty or malformed value; a date in the past gives a negative duration.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, ok := deltaSeconds(v); ok {
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return when.Sub(now), true
}

// deltaSeconds parses a non-negative decimal integer, saturating.
func deltaSeconds(v string) (int64, bool) {
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// wall returns the wall-clock time of at on the Transport's timeline.
func (t *Transport) wall(at int64) time.Time { return t.base.Add(time.Duration(at)) }
