package timeouts

import (
	"math"
	"time"
)

// The rules of the adaptive bounds (documented on WithAdaptiveBodyIdle and
// WithAdaptiveWriteIdle).
const (
	// adaptAfter is the number of gaps an adaptive bound needs before it
	// replaces the cold-start bound.
	adaptAfter = 3
	// window is the number of recent gaps the body-side percentile uses.
	window = 32
	// longFirstGap and longFirstBound: when the first gap of a body already
	// lasts longFirstGap, the cold-start bound is longFirstBound.
	longFirstGap   = 2 * time.Second
	longFirstBound = 5 * time.Second
	// minGap is the shortest wait that can count as a gap.
	minGap = time.Millisecond
)

// gap reports whether a wait of d counts as a gap: at least max(1ms,
// floor/10). Shorter waits are reads served from data already buffered, or
// writes the connection took at once; they say nothing about the stream's
// pace.
func (a adaptive) gap(d time.Duration) bool { return d >= max(minGap, a.floor/10) }

// clamp returns d clamped to [a.floor, a.ceiling]; d <= 0 (no bound) gives the
// ceiling.
func (a adaptive) clamp(d time.Duration) time.Duration {
	if d <= 0 || d > a.ceiling {
		return a.ceiling
	}
	return max(d, a.floor)
}

// scale returns d times the factor, clamped.
func (a adaptive) scale(d time.Duration) time.Duration {
	f := math.Round(float64(d) * a.factor)
	if f >= float64(a.ceiling) {
		return a.ceiling
	}
	return a.clamp(time.Duration(f))
}

// readGaps keeps the recent gaps of a response body. Not safe for concurrent
// use; the exchange's mutex guards it.
type readGaps struct {
	buf   [window]time.Duration
	n     int           // gaps so far
	first time.Duration // the first gap
}

// add records a Read that waited d, when d is a gap.
func (g *readGaps) add(d time.Duration, a adaptive) {
	if !a.gap(d) {
		return
	}
	if g.n == 0 {
		g.first = d
	}
	g.buf[g.n%window] = d
	g.n++
}

// bound returns the idle bound of the next Read.
func (g *readGaps) bound(static time.Duration, a adaptive) time.Duration {
	switch {
	case g.n >= adaptAfter:
		return a.scale(g.p95())
	case g.n > 0 && g.first >= longFirstGap:
		return a.clamp(longFirstBound)
	}
	return a.clamp(static)
}

// p95 returns the nearest-rank 95th percentile of the recent gaps: the
// smallest with at least 95% of them at or below it.
func (g *readGaps) p95() time.Duration {
	k := min(g.n, window)
	var s [window]time.Duration
	copy(s[:k], g.buf[:k])
	// Insertion sort: k is at most 32.
	for i := 1; i < k; i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[(95*k+99)/100-1]
}

// writeGaps keeps the last three gaps of a request body. Not safe for
// concurrent use; the exchange's mutex guards it.
type writeGaps struct {
	last [adaptAfter]time.Duration
	n    int
}

func (g *writeGaps) add(d time.Duration, a adaptive) {
	if a.gap(d) {
		g.last[g.n%adaptAfter] = d
		g.n++
	}
}

// bound returns the write idle bound after a Read of the body: the weighted
// mean of the last three gaps (0.2, 0.3, 0.5 from the oldest) times the
// factor, or the static bound before three gaps; clamped either way.
func (g *writeGaps) bound(static time.Duration, a adaptive) time.Duration {
	if g.n < adaptAfter {
		return a.clamp(static)
	}
	oldest, mid, newest := g.last[g.n%3], g.last[(g.n+1)%3], g.last[(g.n+2)%3]
	return a.scale((2*oldest + 3*mid + 5*newest) / 10)
}
