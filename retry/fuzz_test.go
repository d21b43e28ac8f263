package retry

import (
	"context"
	"math"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// fuzzNow is the reference time of FuzzRetryAfter; the fuzzer moves it.
var fuzzNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// FuzzRetryAfter checks the Retry-After parser on any header value: it never
// panics, its result is in [0, MaxInt64] and 0 when it rejects the value, a
// number of seconds is exact or, when too large for a Duration, the largest
// Duration (above every exact result), a later value or an earlier "now"
// never means a sooner retry, and the random extra on top never shortens
// the wait nor goes past its documented width.
func FuzzRetryAfter(f *testing.F) {
	for _, v := range []string{
		"", "0", " 120 ", "-1", "-0", "--1", "1.5", "+3", "soon",
		"9223372036", "9223372037", "99999999999999999999999",
		"Sat, 28 Nov 2026 12:00:10 GMT", "Saturday, 28-Nov-26 12:01:00 GMT",
		"Sat Nov 28 12:00:03 2026", "Sat, 28 Nov 2026 11:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
	} {
		f.Add(v, int64(0), uint32(1), 0.5)
	}
	f.Fuzz(func(t *testing.T, v string, nowOff int64, later uint32, rnd float64) {
		now := fuzzNow.Add(time.Duration(nowOff))
		parse := func(v string, now time.Time) (time.Duration, bool) {
			return retryAfter(http.Header{"Retry-After": {v}}, now)
		}
		d, ok := parse(v, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("retryAfter(%q) = %v, %v: want a duration ≥ 0, and 0 when rejected", v, d, ok)
		}
		if !ok {
			return
		}
		trimmed := strings.TrimSpace(v)
		switch {
		case isDigits(trimmed):
			checkSeconds(t, trimmed, d)
		case trimmed[0] == '-':
			if d != 0 {
				t.Fatalf("retryAfter(%q) = %v: a negative number means now", v, d)
			}
		default:
			checkDate(t, trimmed, d, now, time.Duration(later)*time.Second, parse)
		}
		// An earlier "now" never means a sooner retry.
		if d2, ok2 := parse(v, now.Add(-time.Duration(later))); !ok2 || d2 < d {
			t.Fatalf("retryAfter(%q) at %v = %v, %v; %v earlier = %v, %v: want ok and not sooner", v, now, d, ok, later, d2, ok2)
		}
		checkSpread(t, d, rnd)
	})
}

// checkSeconds checks the result d of delta-seconds s (digits only) against
// exact arithmetic, and that a larger number never waits less.
func checkSeconds(t *testing.T, s string, d time.Duration) {
	t.Helper()
	n, _ := new(big.Int).SetString(s, 10)
	ns := new(big.Int).Mul(n, big.NewInt(int64(time.Second)))
	switch {
	case ns.IsInt64() && d != time.Duration(ns.Int64()):
		t.Fatalf("retryAfter(%q) = %v, want %v", s, d, time.Duration(ns.Int64()))
	case !ns.IsInt64() && d != math.MaxInt64:
		t.Fatalf("retryAfter(%q) = %v: want the largest Duration for a number too large", s, d)
	}
	if d2, ok := retryAfter(http.Header{"Retry-After": {"1" + s}}, fuzzNow); !ok || d2 < d {
		t.Fatalf("retryAfter(%q) = %v, but retryAfter(%q) = %v, %v", s, d, "1"+s, d2, ok)
	}
}

// checkDate checks the result d of the HTTP date s: the time to that date
// from now, 0 if it is past, and a later date never waits less.
func checkDate(t *testing.T, s string, d time.Duration, now time.Time, later time.Duration,
	parse func(string, time.Time) (time.Duration, bool)) {
	t.Helper()
	at, err := http.ParseTime(s)
	if err != nil {
		t.Fatalf("retryAfter(%q) accepted what http.ParseTime rejects: %v", s, err)
	}
	if want := max(at.Sub(now), 0); d != want {
		t.Fatalf("retryAfter(%q) at %v = %v, want %v", s, now, d, want)
	}
	next := at.Add(later).UTC()
	if next.Year() > 9999 {
		return // not expressible as an HTTP date
	}
	v2 := next.Format(http.TimeFormat)
	if d2, ok := parse(v2, now); !ok || d2 < d {
		t.Fatalf("retryAfter(%q) = %v, but the later %q = %v, %v", s, d, v2, d2, ok)
	}
}

// checkSpread checks the random extra on top of a Retry-After of d: never
// less than d, at most max(100 ms, d/10) more (unless that overflows), and
// not sooner for a longer d with the same draw.
func checkSpread(t *testing.T, d time.Duration, rnd float64) {
	t.Helper()
	r := math.Abs(math.Mod(rnd, 1)) // the source's contract: [0, 1)
	if math.IsNaN(r) {
		r = 0
	}
	src := func() float64 { return r }
	w := spread(d, src)
	width := max(spreadMin, d/spreadShare)
	if w < d || (d <= math.MaxInt64-width && w > d+width) {
		t.Fatalf("spread(%v, %v) = %v: want in [d, d+%v]", d, r, w, width)
	}
	if d < math.MaxInt64 {
		if w2 := spread(d+1, src); w2 < w {
			t.Fatalf("spread(%v, %v) = %v but spread(d+1) = %v", d, r, w, w2)
		}
	}
}

// FuzzRetryAfterWait sends a request whose first answer is a 429 or 503
// with the fuzzed Retry-After, through a Transport with a fuzzed cap,
// random draw and deadline, on fake time: the Transport waits what the
// header asks (plus at most the documented extra), falls back to the
// backoff for a value it cannot parse, and returns the response at once
// when the value is above the cap (a number too large for a Duration is
// above any cap) or the wait would not fit before the deadline.
func FuzzRetryAfterWait(f *testing.F) {
	for _, s := range []struct {
		v   string
		cap int64
		dl  uint32
	}{
		{"2", int64(30 * time.Second), 0},
		{"3600", int64(30 * time.Second), 0},
		{"soon", int64(30 * time.Second), 0},
		{"0", 0, 0},
		{"-5", int64(time.Second), 0},
		{"9300000000", int64(30 * time.Second), 0},
		{"Sat, 01 Jan 2000 00:00:10 GMT", int64(time.Minute), 0},
		{"5", int64(time.Minute), 3000},
		{"1", int64(time.Minute), 60000},
	} {
		f.Add(s.v, s.cap, 0.25, s.dl, false)
	}
	f.Fuzz(func(t *testing.T, v string, capNs int64, rnd float64, deadlineMs uint32, tooMany bool) {
		limit := time.Duration(capNs & math.MaxInt64)
		r := math.Abs(math.Mod(rnd, 1))
		if math.IsNaN(r) {
			r = 0
		}
		status := http.StatusServiceUnavailable
		if tooMany {
			status = http.StatusTooManyRequests
		}
		synctest.Test(t, func(t *testing.T) {
			checkRetryAfterWait(t, v, limit, r, time.Duration(deadlineMs)*time.Millisecond, status)
		})
	})
}

func checkRetryAfterWait(t *testing.T, v string, limit time.Duration, r float64, deadline time.Duration, status int) {
	calls := 0
	next := rtFunc(func(req *http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {v}}, Body: http.NoBody, Request: req}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	})
	var gaveUp GiveUpReason
	rt := New(next, WithRetryAfterCap(limit), WithRandom(func() float64 { return r }),
		WithBackoff(time.Second, time.Second, JitterNone), WithBudget(nil),
		WithOnGiveUp(func(g GiveUp) { gaveUp = g.Reason }))
	ctx := context.Background()
	if deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, ok := retryAfter(http.Header{"Retry-After": {v}}, start)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	resp.Body.Close()
	elapsed := time.Since(start)

	lo, hi := time.Second, time.Second // the backoff, for a value not honoured
	if ok {
		lo, hi = d, d+max(spreadMin, d/spreadShare)
		if d > math.MaxInt64-max(spreadMin, d/spreadShare) {
			hi = math.MaxInt64
		}
	}
	switch {
	case ok && (d > limit || d == math.MaxInt64):
		if calls != 1 || elapsed != 0 || gaveUp != GiveUpRetryAfterCap || resp.StatusCode != status {
			t.Fatalf("Retry-After %q (%v) above the cap %v: %d calls after %v, status %d, gave up for %q; want the %d at once",
				v, d, limit, calls, elapsed, resp.StatusCode, gaveUp, status)
		}
	case calls == 1:
		// Only a deadline that leaves no room for the longest possible
		// wait and the least attempt time may stop the loop.
		if deadline == 0 || deadline-hi > defaultMinAttempt || elapsed != 0 || gaveUp != GiveUpDeadline {
			t.Fatalf("Retry-After %q (%v, %v) under the cap %v, deadline %v: no retry after %v, gave up for %q",
				v, d, ok, limit, deadline, elapsed, gaveUp)
		}
	default:
		if calls != 2 || elapsed < lo || elapsed > hi || (deadline > 0 && deadline-elapsed <= defaultMinAttempt) {
			t.Fatalf("Retry-After %q (%v, %v), cap %v, deadline %v: %d calls after %v, want 2 after a wait in [%v, %v]",
				v, d, ok, limit, deadline, calls, elapsed, lo, hi)
		}
	}
}

// rtFunc is an http.RoundTripper made of a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
