package breaker

import (
	"math/bits"
	"time"
)

// The latency window keeps, beside its exact counts, a fixed-bucket latency
// histogram per bucket, only to report an estimate of P99 in [Counts]: 4 bins
// per power of two from 128 µs to 2^27 µs (about 134 s), plus one bin below
// and one above. No decision is taken from it: the P99 conditions count the
// outcomes above their bound exactly.
const (
	minExp  = 7  // 2^7 µs = 128 µs: the lower edge of the first octave
	maxExp  = 26 // the last octave starts at 2^26 µs, about 67 s
	subBins = 4
	numBins = 1 + (maxExp-minExp+1)*subBins + 1
)

// binOf returns the histogram bin of latency d.
func binOf(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	if us < 1<<minExp {
		return 0
	}
	e := bits.Len64(us) - 1
	if e > maxExp {
		return numBins - 1
	}
	sub := int(us>>(e-2)) & (subBins - 1)
	return 1 + (e-minExp)*subBins + sub
}

// binLow returns the lower edge of bin k.
func binLow(k int) time.Duration {
	switch {
	case k <= 0:
		return 0
	case k >= numBins-1:
		return time.Duration(uint64(1)<<(maxExp+1)) * time.Microsecond
	}
	e := minExp + (k-1)/subBins
	sub := (k - 1) % subBins
	return time.Duration(uint64(subBins+sub)<<(e-2)) * time.Microsecond
}

// binHigh returns the upper edge of bin k (the lower edge for the last bin,
// which has none).
func binHigh(k int) time.Duration {
	if k >= numBins-1 {
		return binLow(numBins - 1)
	}
	return binLow(k + 1)
}

// p99 returns the 99th percentile (nearest rank) of the latencies t holds,
// as close as its counts allow. With at most 100 outcomes it is the slowest
// one, exactly. Above that it is estimated from the histogram, linearly
// inside the bin that holds it, and then kept within what the exact counts
// prove: never above the slowest outcome; above the bound when more than 1 %
// of the outcomes were slower than it (and then at least the fastest of
// those), at most the bound otherwise.
func (t *tally) p99(bound time.Duration) time.Duration {
	n := t.latRequests
	if n == 0 {
		return 0
	}
	rank := n - n/100 // ceil(0.99 × n)
	if rank == n {
		return t.maxLat
	}
	est := binLow(numBins - 1)
	var cum uint64
	for k, c := range t.hist {
		if c == 0 {
			continue
		}
		if cum+c >= rank {
			lo, hi := binLow(k), binHigh(k)
			est = lo + time.Duration(float64(hi-lo)*float64(rank-cum)/float64(c))
			break
		}
		cum += c
	}
	hi, lo := t.maxLat, time.Duration(0)
	if bound > 0 {
		if t.over > n/100 {
			lo = t.minOver
		} else {
			hi = min(hi, bound)
		}
	}
	return max(min(est, hi), lo)
}
