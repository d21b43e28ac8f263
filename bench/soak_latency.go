package bench

import (
	"math"
	"time"
)

// Latency histograms of the soak: log-spaced buckets, 100 per decade from
// 1 µs to 100 s, so that memory stays constant however long the run (a
// growing slice of samples would itself look like heap growth) and a
// quantile is exact to about 2.3 %.
const (
	histPerDecade = 100
	histDecades   = 8 // 1 µs … 100 s
	histBuckets   = histPerDecade*histDecades + 1
)

// latencyHist counts durations; the zero value is empty and ready to use.
type latencyHist struct {
	counts [histBuckets]int64
	n      int64
}

func histBucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Ceil(math.Log10(us)*histPerDecade)), histBuckets-1)
}

// histUpper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	return time.Duration(math.Pow(10, float64(i)/histPerDecade) * float64(time.Microsecond))
}

func (h *latencyHist) add(d time.Duration) {
	h.counts[histBucket(d)]++
	h.n++
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the upper bound of the bucket that holds the q-quantile,
// or 0 when h is empty.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= max(rank, 1) {
			return histUpper(i)
		}
	}
	return histUpper(histBuckets - 1)
}
