package timeouts

import "time"

// minSamples is the number of observations an adaptive bound needs before it
// replaces the static bound.
const minSamples = 8

// window is the number of recent read waits the body-side percentile uses.
const window = 32

// p95 keeps the last window read waits of a response body. Not safe for
// concurrent use; the exchange's mutex guards it.
type p95 struct {
	buf [window]time.Duration
	n   int // observations so far
}

func (p *p95) add(d time.Duration) {
	p.buf[p.n%window] = d
	p.n++
}

// bound returns the idle bound to apply: static before minSamples
// observations, then the 95th percentile of the recent waits times a.factor,
// clamped to [a.floor, a.ceiling].
func (p *p95) bound(static time.Duration, a adaptive) time.Duration {
	if p.n < minSamples {
		return static
	}
	k := min(p.n, window)
	var s [window]time.Duration
	copy(s[:k], p.buf[:k])
	// Insertion sort: k is at most 32.
	for i := 1; i < k; i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	// Nearest-rank percentile: the smallest value with at least 95% of the
	// samples at or below it.
	rank := (95*k + 99) / 100
	return scale(s[rank-1], a)
}

// ewma keeps an exponentially weighted moving average of the gaps between the
// transport's reads of a request body. Not safe for concurrent use; the
// exchange's mutex guards it.
type ewma struct {
	avg time.Duration
	n   int
}

func (e *ewma) add(d time.Duration) {
	if e.n == 0 {
		e.avg = d
	} else {
		e.avg += (d - e.avg) / 4
	}
	e.n++
}

// bound returns static before minSamples observations, then the average
// times a.factor clamped to [a.floor, a.ceiling].
func (e *ewma) bound(static time.Duration, a adaptive) time.Duration {
	if e.n < minSamples {
		return static
	}
	return scale(e.avg, a)
}

func scale(d time.Duration, a adaptive) time.Duration {
	f := float64(d) * a.factor
	switch {
	case f < float64(a.floor):
		return a.floor
	case f > float64(a.ceiling):
		return a.ceiling
	}
	return time.Duration(f)
}
